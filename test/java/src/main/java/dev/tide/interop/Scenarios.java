package dev.tide.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Scenarios of the official Java client (kafka-clients 4.x) against one
 * Kafka-compatible broker, run by Tide's interop tests against real Apache
 * Kafka and against Tide alike.
 *
 * <pre>java -jar scenarios.jar BOOTSTRAP TOPIC</pre>
 *
 * TOPIC must be fresh; it is created with 3 partitions and deleted at the end.
 * <ol>
 * <li>An idempotent producer ({@code enable.idempotence=true, acks=all})
 * sends 1000 keyed records; every send's metadata must name the topic, a
 * partition, the record's timestamp, and offsets that are, per partition,
 * exactly 0..n-1 in send order.</li>
 * <li>A consumer in a new group ({@code auto.offset.reset=earliest}, no
 * auto-commit, {@code commitSync} after every poll) must read every record
 * once, at the partition and offset the producer was told; afterwards the
 * committed offsets must equal the end offsets.</li>
 * <li>A second consumer in the same group, starting from the committed
 * offsets, must be assigned every partition at the committed position and
 * read nothing.</li>
 * </ol>
 * Exit status 0 on success; 1 with {@code FAIL: ...} on stderr otherwise; 2 on
 * bad usage.
 */
public final class Scenarios {
    static final int TOTAL = 1000;
    static final int PARTITIONS = 3;
    static final Duration OP_TIMEOUT = Duration.ofSeconds(30);

    /** A scenario's expectation did not hold. */
    static final class Failure extends RuntimeException {
        Failure(String message) {
            super(message);
        }
    }

    /** Where the producer was told a record went. */
    record Placement(int partition, long offset, String value) {}

    private final String bootstrap;
    private final String topic;
    private final String groupProtocol;

    private Scenarios(String bootstrap, String topic) {
        this.bootstrap = bootstrap;
        this.topic = topic;
        // The classic group protocol (JoinGroup/SyncGroup) is what Tide serves
        // and still the 4.x client default; say so, so a change of default
        // cannot silently move the test to KIP-848's ConsumerGroupHeartbeat.
        this.groupProtocol = System.getenv().getOrDefault("SCENARIOS_GROUP_PROTOCOL", "classic");
    }

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: java -jar scenarios.jar BOOTSTRAP TOPIC");
            System.exit(2);
        }
        // Must be set before the first logger is created.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");

        long timeoutMs = Long.parseLong(System.getenv().getOrDefault("SCENARIOS_TIMEOUT_MS", "100000"));
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(timeoutMs);
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("FAIL: Java scenarios did not finish within " + timeoutMs + " ms");
            Runtime.getRuntime().halt(1);
        }, "watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        try {
            new Scenarios(args[0], args[1]).run();
        } catch (Failure f) {
            System.err.println("FAIL: " + f.getMessage());
            System.exit(1);
        } catch (Exception e) {
            System.err.print("FAIL: unexpected ");
            e.printStackTrace();
            System.exit(1);
        }
        log("ok");
        System.exit(0);
    }

    static void log(String msg) {
        System.out.printf("[java %s] %s%n", java.time.Instant.now(), msg);
    }

    static void check(boolean cond, String fmt, Object... args) {
        if (!cond) {
            throw new Failure(String.format(fmt, args));
        }
    }

    private void run() throws Exception {
        try (Admin admin = Admin.create(adminProps())) {
            createTopic(admin);
            Map<String, Placement> placed = produce();
            String group = "java-" + topic + "-" + UUID.randomUUID();
            Map<TopicPartition, Long> ends = consumeAll(group, placed);
            consumeNothingMore(group, ends);
            admin.deleteTopics(List.of(topic)).all().get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private Properties adminProps() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "tide-interop-java-admin");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return p;
    }

    private void createTopic(Admin admin) throws Exception {
        try {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1)))
                    .all().get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException) {
                throw new Failure("topic " + topic + " already exists; the caller must pass a fresh name");
            }
            throw e;
        }
        long until = System.nanoTime() + OP_TIMEOUT.toNanos();
        while (true) {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).get(topic);
            boolean led = d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty());
            if (d.partitions().size() == PARTITIONS && led) {
                break;
            }
            check(System.nanoTime() < until, "topic %s: %d partitions, leaders %s after %s",
                    topic, d.partitions().size(), led, OP_TIMEOUT);
            Thread.sleep(100);
        }
        log("created " + topic + " with " + PARTITIONS + " partitions");
    }

    private Map<String, Placement> produce() throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "tide-interop-java-producer");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, "8192"); // several batches per partition
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());

        long baseTs = System.currentTimeMillis();
        List<Future<RecordMetadata>> futures = new ArrayList<>(TOTAL);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < TOTAL; i++) {
                futures.add(producer.send(new ProducerRecord<>(topic, null, baseTs + i, key(i), value(i))));
            }
            producer.flush();
        }

        Map<String, Placement> placed = new HashMap<>();
        Map<Integer, Long> nextOffset = new HashMap<>();
        for (int i = 0; i < TOTAL; i++) {
            RecordMetadata md;
            try {
                md = futures.get(i).get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                throw new Failure("send of record " + i + " failed: " + e.getCause());
            }
            check(topic.equals(md.topic()), "record %d: metadata topic %s, want %s", i, md.topic(), topic);
            check(md.partition() >= 0 && md.partition() < PARTITIONS, "record %d: partition %d", i, md.partition());
            check(md.hasOffset(), "record %d: metadata has no offset", i);
            check(md.timestamp() == baseTs + i, "record %d: metadata timestamp %d, want %d (CreateTime)",
                    i, md.timestamp(), baseTs + i);
            // Idempotent and in order: per partition, offsets are 0, 1, 2, ... in send order.
            long want = nextOffset.getOrDefault(md.partition(), 0L);
            check(md.offset() == want, "record %d: offset %d in partition %d, want %d (gap, duplicate or reordering)",
                    i, md.offset(), md.partition(), want);
            nextOffset.put(md.partition(), want + 1);
            placed.put(key(i), new Placement(md.partition(), md.offset(), value(i)));
        }
        check(nextOffset.size() == PARTITIONS, "records went to partitions %s, want all %d", nextOffset.keySet(), PARTITIONS);
        log("produced " + TOTAL + " records, per partition " + nextOffset);
        return placed;
    }

    static String key(int i) {
        return "key-" + i;
    }

    static String value(int i) {
        return "value-" + i + "-" + "y".repeat(i % 89);
    }

    private Properties consumerProps(String group, String clientId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, groupProtocol);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "150");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        if (groupProtocol.equals("classic")) {
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
        }
        return p;
    }

    private Set<TopicPartition> partitions() {
        Set<TopicPartition> tps = new HashSet<>();
        for (int i = 0; i < PARTITIONS; i++) {
            tps.add(new TopicPartition(topic, i));
        }
        return tps;
    }

    /** Reads all records once, committing after every poll; returns the end offsets. */
    private Map<TopicPartition, Long> consumeAll(String group, Map<String, Placement> placed) {
        Map<String, Integer> seen = new HashMap<>();
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        int polls = 0;
        int commits = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerProps(group, "tide-interop-java-consumer-1"))) {
            consumer.subscribe(List.of(topic));
            while (seen.size() < TOTAL) {
                check(System.nanoTime() < until, "consumer 1 read %d of %d distinct records in 60 s", seen.size(), TOTAL);
                ConsumerRecords<String, String> recs = consumer.poll(Duration.ofMillis(250));
                polls++;
                for (ConsumerRecord<String, String> r : recs) {
                    Placement want = placed.get(r.key());
                    check(want != null, "consumer 1 read unknown key %s at %d@%d", r.key(), r.partition(), r.offset());
                    check(want.partition() == r.partition() && want.offset() == r.offset(),
                            "key %s read at %d@%d, produced to %d@%d", r.key(), r.partition(), r.offset(),
                            want.partition(), want.offset());
                    check(want.value().equals(r.value()), "key %s: value %s, want %s", r.key(), r.value(), want.value());
                    int n = seen.merge(r.key(), 1, Integer::sum);
                    check(n == 1, "consumer 1 read key %s twice (second at %d@%d)", r.key(), r.partition(), r.offset());
                }
                if (!recs.isEmpty()) {
                    consumer.commitSync(OP_TIMEOUT);
                    commits++;
                }
            }
            Set<TopicPartition> tps = partitions();
            Map<TopicPartition, Long> ends = consumer.endOffsets(tps, OP_TIMEOUT);
            Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(tps, OP_TIMEOUT);
            long sum = 0;
            for (TopicPartition tp : tps) {
                OffsetAndMetadata c = committed.get(tp);
                check(c != null, "no committed offset for %s", tp);
                check(c.offset() == ends.get(tp), "%s: committed offset %d, end offset %d", tp, c.offset(), ends.get(tp));
                sum += ends.get(tp);
            }
            check(sum == TOTAL, "end offsets %s add up to %d, want %d", ends, sum, TOTAL);
            log("consumer 1 read " + seen.size() + " records in " + polls + " polls, " + commits
                    + " commits; committed = end offsets " + ends);
            return ends;
        }
    }

    /** A restarted member of the group must resume at the committed offsets and read nothing. */
    private void consumeNothingMore(String group, Map<TopicPartition, Long> ends) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerProps(group, "tide-interop-java-consumer-2"))) {
            consumer.subscribe(List.of(topic));
            long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            int records = 0;
            while (consumer.assignment().size() < PARTITIONS) {
                check(System.nanoTime() < until, "consumer 2 assigned %s after 30 s, want all %d partitions",
                        consumer.assignment(), PARTITIONS);
                records += consumer.poll(Duration.ofMillis(250)).count();
            }
            long quiet = System.nanoTime() + Duration.ofMillis(1500).toNanos();
            while (System.nanoTime() < quiet) {
                records += consumer.poll(Duration.ofMillis(250)).count();
            }
            check(records == 0, "consumer 2 read %d records after the group committed everything", records);
            Collection<TopicPartition> tps = consumer.assignment();
            for (TopicPartition tp : tps) {
                long pos = consumer.position(tp, OP_TIMEOUT);
                check(pos == ends.get(tp), "consumer 2 at %s position %d, committed %d", tp, pos, ends.get(tp));
            }
            log("consumer 2 resumed at the committed offsets and read nothing");
        }
    }
}
