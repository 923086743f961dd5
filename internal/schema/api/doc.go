// Package api serves the Confluent Schema Registry REST API over a
// schema.Registry, so that Confluent's serializers, franz-go's sr client and
// the other registry clients work against Tide with the base URL of its
// HTTP server. Paths, bodies, media types (application/vnd.schemaregistry.v1+json,
// application/json), version parsing ("latest", -1, 1..2^31-1) and errors
// ({"error_code": 40401, "message": "..."} with the status the code starts
// with) are Confluent's; schemaType is omitted for AVRO, its default.
//
//	GET    /schemas/types
//	GET    /schemas                                         ?subjectPrefix ?deleted ?latestOnly
//	GET    /schemas/ids/{id}[/schema|/subjects|/versions]    ?subject ?deleted
//	GET    /subjects                                        ?subjectPrefix ?deleted ?deletedOnly
//	POST   /subjects/{s}                  look a schema up  ?deleted
//	DELETE /subjects/{s}                                    ?permanent
//	GET    /subjects/{s}/versions                           ?deleted ?deletedOnly
//	POST   /subjects/{s}/versions         register          ?normalize
//	GET    /subjects/{s}/versions/{v}[/schema]              ?deleted
//	GET    /subjects/{s}/versions/{v}/referencedby
//	DELETE /subjects/{s}/versions/{v}                       ?permanent
//	POST   /compatibility/subjects/{s}/versions[/{v}]       ?verbose
//	GET|PUT|DELETE /config[/{s}]                            ?defaultToGlobal
//	GET|PUT|DELETE /mode[/{s}]                              ?defaultToGlobal ?force
//
// Subject names are path segments, URL-decoded: any character goes,
// "/" as %2F. Contexts (/contexts/...), schema tags, rule sets and
// metadata are not served; metadata and ruleSet in a body are ignored.
package api
