package dev.tide.bench;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;

/**
 * Debezium's embedded engine against one Postgres table, timed from the
 * engine's creation to its Nth change event: the baseline that
 * {@code tide bench cdc --debezium DIR} compares Tide's capture with.
 *
 * <pre>
 *   debezium-bench --host H --port P --user U --database D --table public.t \
 *       --slot S --publication P --events N [--snapshot-mode initial|no_data] \
 *       [--schemas false] [--timeout-seconds 1800] [--set key=value ...]
 * </pre>
 *
 * The password, if any, is taken from $PGPASSWORD (not from the command
 * line, where ps shows it). The connector runs as Debezium Server would
 * run it with its JSON format: pgoutput, the publication created for the
 * table if missing (publication.autocreate.mode=filtered), offsets in
 * memory, decimal.handling.mode=string, Kafka Connect's JsonConverter for
 * key and value (schemas.enable=false by default, the shape Tide writes),
 * Debezium's default queue and batch sizes. Every event is serialized by
 * the engine and its key and value strings are measured by the handler.
 * Each {@code --set key=value} sets one more engine or connector property
 * (after these, so it may replace one), for trying other settings by hand.
 *
 * <p>On the Nth event of the table's topic one JSON line goes to stdout:
 * events, seconds (engine creation to the Nth event), first_event_seconds,
 * bytes (key + value characters, all ASCII here), cpu_seconds (this JVM's
 * CPU time over the same interval: JIT compilation and GC threads
 * included), gc_seconds, jvm_start_seconds (JVM start to engine creation,
 * not part of seconds), the JVM's arguments and versions. Then the engine
 * is closed and the process exits 0; the replication slot is left for the
 * caller (a later run with --snapshot-mode no_data resumes it). Anything
 * else exits 1 with the reason on stderr, where Debezium's WARN and ERROR
 * lines also go.
 */
public final class DebeziumBench {
    private DebeziumBench() {
    }

    /** The change consumer: counts the table's events and their sizes. */
    private static final class Counter implements DebeziumEngine.ChangeConsumer<ChangeEvent<String, String>> {
        private final String destination;
        private final long want;
        private final com.sun.management.OperatingSystemMXBean os;
        private final CountDownLatch done = new CountDownLatch(1);
        // Written by the engine's handler thread only; read by main after done.
        private long events;
        private long other;
        private long bytes;
        private long firstNanos;
        private long doneNanos;
        private long doneCpu;
        private long doneGcMillis;
        // Set by the completion callback.
        private volatile String failure;

        Counter(String destination, long want, com.sun.management.OperatingSystemMXBean os) {
            this.destination = destination;
            this.want = want;
            this.os = os;
        }

        @Override
        public void handleBatch(List<ChangeEvent<String, String>> records,
                                DebeziumEngine.RecordCommitter<ChangeEvent<String, String>> committer)
                throws InterruptedException {
            for (ChangeEvent<String, String> r : records) {
                String value = r.value();
                if (!destination.equals(r.destination()) || value == null) {
                    other++;
                } else if (events < want) {
                    String key = r.key();
                    bytes += (key == null ? 0 : key.length()) + value.length();
                    events++;
                    if (events == 1) {
                        firstNanos = System.nanoTime();
                    }
                    if (events == want) {
                        doneNanos = System.nanoTime();
                        doneCpu = os.getProcessCpuTime();
                        doneGcMillis = gcMillis();
                        done.countDown();
                    }
                }
                committer.markProcessed(r);
            }
            committer.markBatchFinished();
        }
    }

    public static void main(String[] argv) throws Exception {
        setDefault("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        setDefault("org.slf4j.simpleLogger.logFile", "System.err");
        setDefault("org.slf4j.simpleLogger.showDateTime", "true");
        List<String> sets = new ArrayList<>();
        Map<String, String> args = parseArgs(argv, sets);
        String table = required(args, "table");
        long want = Long.parseLong(required(args, "events"));
        if (want < 1) {
            fail("--events must be positive");
        }
        String snapshotMode = args.getOrDefault("snapshot-mode", "initial");
        long timeoutSeconds = Long.parseLong(args.getOrDefault("timeout-seconds", "1800"));
        String topicPrefix = "bench";

        Properties props = new Properties();
        props.setProperty("name", "tide-bench-debezium");
        props.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
        props.setProperty("offset.storage", "org.apache.kafka.connect.storage.MemoryOffsetBackingStore");
        props.setProperty("offset.flush.interval.ms", "10000");
        props.setProperty("topic.prefix", topicPrefix);
        props.setProperty("database.hostname", args.getOrDefault("host", "127.0.0.1"));
        props.setProperty("database.port", args.getOrDefault("port", "5432"));
        props.setProperty("database.user", required(args, "user"));
        String password = System.getenv("PGPASSWORD");
        if (password != null && !password.isEmpty()) {
            props.setProperty("database.password", password);
        }
        props.setProperty("database.dbname", required(args, "database"));
        props.setProperty("plugin.name", "pgoutput");
        props.setProperty("slot.name", required(args, "slot"));
        props.setProperty("publication.name", required(args, "publication"));
        props.setProperty("publication.autocreate.mode", "filtered");
        props.setProperty("table.include.list", table);
        props.setProperty("snapshot.mode", snapshotMode);
        props.setProperty("decimal.handling.mode", "string");
        props.setProperty("converter.schemas.enable", args.getOrDefault("schemas", "false"));
        for (String kv : sets) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                fail("--set wants key=value, not " + kv);
            }
            props.setProperty(kv.substring(0, eq), kv.substring(eq + 1));
        }

        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        Counter counter = new Counter(topicPrefix + "." + table, want, os);

        double jvmStart = ManagementFactory.getRuntimeMXBean().getUptime() / 1e3;
        long gc0 = gcMillis();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
                .using(props)
                .notifying(counter)
                .using((success, message, error) -> {
                    if (counter.done.getCount() > 0) {
                        counter.failure = "the engine stopped after " + counter.events + " of " + want
                                + " events: " + message + (error == null ? "" : ": " + error);
                        counter.done.countDown();
                    }
                })
                .build();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);

        boolean finished = counter.done.await(timeoutSeconds, TimeUnit.SECONDS);
        int exit = 0;
        if (!finished) {
            System.err.println("debezium-bench: " + counter.events + " of " + want + " events after " + timeoutSeconds + " s");
            exit = 1;
        } else if (counter.failure != null) {
            System.err.println("debezium-bench: " + counter.failure);
            exit = 1;
        } else {
            StringBuilder out = new StringBuilder("{");
            field(out, "events", counter.events);
            field(out, "seconds", (counter.doneNanos - t0) / 1e9);
            field(out, "first_event_seconds", (counter.firstNanos - t0) / 1e9);
            field(out, "bytes", counter.bytes);
            field(out, "other_events", counter.other);
            field(out, "cpu_seconds", (counter.doneCpu - cpu0) / 1e9);
            field(out, "gc_seconds", (counter.doneGcMillis - gc0) / 1e3);
            field(out, "jvm_start_seconds", jvmStart);
            field(out, "heap_max_bytes", Runtime.getRuntime().maxMemory());
            field(out, "processors", Runtime.getRuntime().availableProcessors());
            field(out, "snapshot_mode", snapshotMode);
            field(out, "debezium_version", io.debezium.connector.postgresql.Module.version());
            field(out, "java_version", System.getProperty("java.vm.name") + " " + Runtime.version());
            out.append("\"jvm_args\":[");
            List<String> jvmArgs = new ArrayList<>(ManagementFactory.getRuntimeMXBean().getInputArguments());
            for (int i = 0; i < jvmArgs.size(); i++) {
                out.append(i > 0 ? "," : "").append(quote(jvmArgs.get(i)));
            }
            out.append("]}");
            System.out.println(out);
            System.out.flush();
        }
        try {
            engine.close();
        } catch (Exception e) {
            System.err.println("debezium-bench: closing the engine: " + e);
        }
        executor.shutdown();
        if (!executor.awaitTermination(60, TimeUnit.SECONDS)) {
            System.err.println("debezium-bench: the engine did not stop within 60 s");
        }
        // Connect and JDBC threads must not keep the JVM alive.
        System.exit(exit);
    }

    private static long gcMillis() {
        long ms = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ms += Math.max(0, gc.getCollectionTime());
        }
        return ms;
    }

    /** parseArgs reads --name value pairs; the values of --set go to sets. */
    private static Map<String, String> parseArgs(String[] argv, List<String> sets) {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i < argv.length; i += 2) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                fail("usage: debezium-bench --name value ...: bad argument " + argv[i]);
            }
            if (argv[i].equals("--set")) {
                sets.add(argv[i + 1]);
            } else {
                args.put(argv[i].substring(2), argv[i + 1]);
            }
        }
        return args;
    }

    private static String required(Map<String, String> args, String name) {
        String v = args.get(name);
        if (v == null || v.isEmpty()) {
            fail("--" + name + " is required");
        }
        return v;
    }

    private static void setDefault(String property, String value) {
        if (System.getProperty(property) == null) {
            System.setProperty(property, value);
        }
    }

    private static void fail(String message) {
        System.err.println("debezium-bench: " + message);
        System.exit(2);
    }

    private static void field(StringBuilder out, String name, Object value) {
        out.append(quote(name)).append(':');
        if (value instanceof String) {
            out.append(quote((String) value));
        } else {
            out.append(value);
        }
        out.append(',');
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
