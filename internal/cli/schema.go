package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sr"
)

// tide schema: the schema registry through its Confluent REST API, with
// franz-go's client — the same requests any serializer sends, so the
// command works against Tide and against a Confluent registry alike.

type registryFlags struct {
	url string
}

func (f *registryFlags) add(cmd *cobra.Command, e *env) {
	def := e.getenv("TIDE_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	cmd.PersistentFlags().StringVar(&f.url, "url", def, "the registry's base URL: Tide's HTTP address ($TIDE_URL sets the default)")
}

func (f *registryFlags) client() (*sr.Client, error) {
	u := f.url
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	return sr.NewClient(sr.URLs(u))
}

func newSchemaCommand(e *env) *cobra.Command {
	cmd := groupCommand("schema", "Register, fetch, list, check and delete schemas in the schema registry")
	cmd.Long = `Work with the schema registry that tide serve runs on its HTTP address (the
Confluent Schema Registry API at the root paths): subjects are usually
<topic>-value and <topic>-key; schemas are AVRO (default), JSON or PROTOBUF.`
	f := &registryFlags{}
	f.add(cmd, e)
	cmd.AddCommand(newSchemaRegisterCommand(f), newSchemaGetCommand(f), newSchemaListCommand(f),
		newSchemaCheckCommand(f), newSchemaDeleteCommand(f))
	return cmd
}

// schemaInput reads the schema flags shared by register and check.
type schemaInput struct {
	file, typ string
	refs      []string
}

func (in *schemaInput) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&in.file, "file", "f", "", "the schema's file ('-' for standard input)")
	cmd.Flags().StringVar(&in.typ, "type", "AVRO", "AVRO, JSON or PROTOBUF")
	cmd.Flags().StringArrayVar(&in.refs, "reference", nil, "a referenced schema: name=subject:version (repeatable)")
	_ = cmd.MarkFlagRequired("file")
}

func (in *schemaInput) schema(cmd *cobra.Command) (sr.Schema, error) {
	var (
		text []byte
		err  error
	)
	if in.file == "-" {
		text, err = io.ReadAll(cmd.InOrStdin())
	} else {
		text, err = os.ReadFile(in.file)
	}
	if err != nil {
		return sr.Schema{}, err
	}
	s := sr.Schema{Schema: string(text)}
	if err := s.Type.UnmarshalText([]byte(strings.ToUpper(in.typ))); err != nil {
		return sr.Schema{}, usageErrorf("--type %q: want AVRO, JSON or PROTOBUF", in.typ)
	}
	for _, r := range in.refs {
		name, rest, ok1 := strings.Cut(r, "=")
		subject, version, ok2 := strings.Cut(rest, ":")
		v, err := strconv.Atoi(version)
		if !ok1 || !ok2 || err != nil {
			return sr.Schema{}, usageErrorf("--reference %q: want name=subject:version", r)
		}
		s.References = append(s.References, sr.SchemaReference{Name: name, Subject: subject, Version: v})
	}
	return s, nil
}

func newSchemaRegisterCommand(f *registryFlags) *cobra.Command {
	in := &schemaInput{}
	cmd := &cobra.Command{
		Use:   "register SUBJECT --file schema.avsc",
		Short: "Register a schema under a subject (an identical one returns its existing id)",
		Args:  cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			s, err := in.schema(cmd)
			if err != nil {
				return err
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			ss, err := cl.CreateSchema(cmd.Context(), args[0], s)
			if err != nil {
				return registryError(err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "subject %s version %d id %d\n", ss.Subject, ss.Version, ss.ID)
			return err
		}),
	}
	in.add(cmd)
	return cmd
}

func newSchemaGetCommand(f *registryFlags) *cobra.Command {
	var (
		id      int
		version string
	)
	cmd := &cobra.Command{
		Use:   "get [SUBJECT] [--version N|latest] [--id ID]",
		Short: "Print a schema, by subject and version or by global id",
		Args:  cobra.MaximumNArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if id > 0 {
				s, err := cl.SchemaByID(cmd.Context(), id)
				if err != nil {
					return registryError(err)
				}
				_, err = fmt.Fprintf(out, "id %d type %s\n%s\n", id, s.Type, s.Schema)
				return err
			}
			if len(args) == 0 {
				return usageErrorf("give a SUBJECT or --id")
			}
			v, err := parseSchemaVersion(version)
			if err != nil {
				return err
			}
			ss, err := cl.SchemaByVersion(cmd.Context(), args[0], v)
			if err != nil {
				return registryError(err)
			}
			_, err = fmt.Fprintf(out, "subject %s version %d id %d type %s\n%s\n", ss.Subject, ss.Version, ss.ID, ss.Type, ss.Schema.Schema)
			return err
		}),
	}
	cmd.Flags().IntVar(&id, "id", 0, "a global schema id")
	cmd.Flags().StringVar(&version, "version", "latest", "a version number or latest")
	return cmd
}

func newSchemaListCommand(f *registryFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list [SUBJECT]",
		Short: "List the subjects, or a subject's versions with their ids",
		Args:  cobra.MaximumNArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(args) == 0 {
				subjects, err := cl.Subjects(cmd.Context())
				if err != nil {
					return registryError(err)
				}
				for _, s := range subjects {
					if _, err := fmt.Fprintln(out, s); err != nil {
						return err
					}
				}
				return nil
			}
			schemas, err := cl.Schemas(cmd.Context(), args[0])
			if err != nil {
				return registryError(err)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tID\tTYPE")
			for _, s := range schemas {
				fmt.Fprintf(tw, "%d\t%d\t%s\n", s.Version, s.ID, s.Type)
			}
			return tw.Flush()
		}),
	}
}

func newSchemaCheckCommand(f *registryFlags) *cobra.Command {
	in := &schemaInput{}
	var version string
	cmd := &cobra.Command{
		Use:   "check SUBJECT --file schema.avsc [--version N|latest|all]",
		Short: "Check a schema against a subject's compatibility level (exit 1 if incompatible)",
		Long: `Ask the registry whether the schema may be registered under SUBJECT: compatible
with the version given (default: as the subject's level says, latest or all
for the transitive levels), with the reasons when it is not. Exits 1 when
the schema is incompatible, so scripts and CI can gate on it.`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			s, err := in.schema(cmd)
			if err != nil {
				return err
			}
			v := -2 // all versions, as the transitive levels do
			if version != "" {
				if v, err = parseSchemaVersion(version); err != nil {
					return err
				}
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			res, err := cl.CheckCompatibility(sr.WithParams(cmd.Context(), sr.Verbose), args[0], v, s)
			if err != nil {
				return registryError(err)
			}
			out := cmd.OutOrStdout()
			if res.Is {
				_, err = fmt.Fprintln(out, "compatible")
				return err
			}
			fmt.Fprintln(out, "incompatible:")
			for _, m := range res.Messages {
				fmt.Fprintln(out, "  "+m)
			}
			return &exitError{code: 1, err: errors.New("the schema is incompatible")}
		}),
	}
	in.add(cmd)
	cmd.Flags().StringVar(&version, "version", "", "check against this version (a number or latest); default all versions")
	return cmd
}

func newSchemaDeleteCommand(f *registryFlags) *cobra.Command {
	var (
		version   string
		permanent bool
	)
	cmd := &cobra.Command{
		Use:   "delete SUBJECT [--version N] [--permanent]",
		Short: "Delete a subject or one version (soft; --permanent after a soft delete)",
		Args:  cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			how := sr.SoftDelete
			if permanent {
				how = sr.HardDelete
			}
			out := cmd.OutOrStdout()
			if version != "" {
				v, err := parseSchemaVersion(version)
				if err != nil {
					return err
				}
				if err := cl.DeleteSchema(cmd.Context(), args[0], v, how); err != nil {
					return registryError(err)
				}
				_, err = fmt.Fprintf(out, "deleted %s version %s\n", args[0], version)
				return err
			}
			versions, err := cl.DeleteSubject(cmd.Context(), args[0], how)
			if err != nil {
				return registryError(err)
			}
			b, _ := json.Marshal(versions)
			_, err = fmt.Fprintf(out, "deleted %s, versions %s\n", args[0], b)
			return err
		}),
	}
	cmd.Flags().StringVar(&version, "version", "", "delete only this version")
	cmd.Flags().BoolVar(&permanent, "permanent", false, "delete for good (the subject or version must be soft-deleted first)")
	return cmd
}

func parseSchemaVersion(v string) (int, error) {
	if v == "latest" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, usageErrorf("version %q: want a number from 1, or latest", v)
	}
	return n, nil
}

// registryError turns the registry's error body into one line: its
// message and Confluent error code.
func registryError(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return fmt.Errorf("%s (error %d)", re.Message, re.ErrorCode)
	}
	return err
}
