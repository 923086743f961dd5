package dev.tide.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Transactions of the official Java client (kafka-clients 4.x) against one
 * Kafka-compatible broker, run by test/interop's TestJavaTransactions against
 * real Apache Kafka and against Tide alike.
 *
 * <pre>java -cp scenarios.jar dev.tide.interop.TxnScenarios BOOTSTRAP TOPIC GROUP</pre>
 *
 * TOPIC must exist, empty, with {@value #PARTITIONS} partitions (the caller
 * creates and deletes it); GROUP must be fresh. One transactional producer
 * ({@code transactional.id} derived from TOPIC):
 * <ol>
 * <li>commits {@value #BATCH} records together with GROUP's offset
 * {@code TOPIC[0]=7} ({@code sendOffsetsToTransaction});</li>
 * <li>aborts {@value #BATCH} records it flushed to the log;</li>
 * <li>commits {@value #BATCH} more with GROUP's offsets {@code TOPIC[0]=9,
 * TOPIC[1]=4};</li>
 * <li>opens a transaction with {@value #FENCED} flushed records, and is
 * fenced by a second producer of the same transactional id: its commit must
 * fail with {@code ProducerFencedException} (or
 * {@code InvalidProducerEpochException}); the second producer commits
 * {@value #BATCH} records.</li>
 * </ol>
 * Then a {@code read_committed} consumer must read exactly the committed
 * records, at the partitions and offsets the producer was told, and a
 * {@code read_uncommitted} one the aborted and fenced records too (so they
 * were written); GROUP's committed offsets must be those of the last
 * committed transaction.
 * <p>
 * Every record sent is printed on stdout as {@code C|A PARTITION OFFSET VALUE}
 * (committed or aborted), for the caller to check with a client of its own.
 * Exit status 0 on success; 1 with {@code FAIL: ...} on stderr otherwise; 2 on
 * bad usage.
 */
public final class TxnScenarios {
    static final int PARTITIONS = 2;
    static final int BATCH = 20;
    static final int FENCED = 5;
    static final Duration OP_TIMEOUT = Duration.ofSeconds(30);

    /** Where the producer was told a record went, and whether it commits. */
    record Sent(int partition, long offset, String value, boolean committed) {}

    private final String bootstrap;
    private final String topic;
    private final String group;
    private final String transactionalId;
    private final List<Sent> sent = new ArrayList<>();

    private TxnScenarios(String bootstrap, String topic, String group) {
        this.bootstrap = bootstrap;
        this.topic = topic;
        this.group = group;
        this.transactionalId = "java-txn-" + topic;
    }

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: java -cp scenarios.jar dev.tide.interop.TxnScenarios BOOTSTRAP TOPIC GROUP");
            System.exit(2);
        }
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
            System.err.println("FAIL: Java transaction scenarios did not finish within " + timeoutMs + " ms");
            Runtime.getRuntime().halt(1);
        }, "watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        try {
            new TxnScenarios(args[0], args[1], args[2]).run();
        } catch (Scenarios.Failure f) {
            System.err.println("FAIL: " + f.getMessage());
            System.exit(1);
        } catch (Exception e) {
            System.err.print("FAIL: unexpected ");
            e.printStackTrace();
            System.exit(1);
        }
        Scenarios.log("ok");
        System.exit(0);
    }

    private void run() throws Exception {
        try (Admin admin = Admin.create(adminProps())) {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).get(topic);
            Scenarios.check(d.partitions().size() == PARTITIONS, "topic %s has %d partitions, want %d",
                    topic, d.partitions().size(), PARTITIONS);

            produce();
            for (Sent s : sent) {
                System.out.printf("%s %d %d %s%n", s.committed() ? "C" : "A", s.partition(), s.offset(), s.value());
            }
            consume(true);
            consume(false);

            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            Map<TopicPartition, Long> got = new TreeMap<>((a, b) -> Integer.compare(a.partition(), b.partition()));
            offsets.forEach((tp, om) -> got.put(tp, om.offset()));
            Map<TopicPartition, Long> want = Map.of(new TopicPartition(topic, 0), 9L, new TopicPartition(topic, 1), 4L);
            Scenarios.check(got.equals(want), "group %s: committed offsets %s, want %s", group, got, want);
            Scenarios.log("group " + group + " committed " + got);
        }
    }

    private Properties adminProps() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "tide-interop-java-txn-admin");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return p;
    }

    private KafkaProducer<String, String> newProducer(String clientId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "10000");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    /** Sends n records named prefix-i, flushes, and returns where they went. */
    private List<Sent> send(KafkaProducer<String, String> producer, String prefix, int n, boolean committed)
            throws Exception {
        List<Future<RecordMetadata>> futures = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String v = prefix + "-" + i;
            futures.add(producer.send(new ProducerRecord<>(topic, "key-" + v, v)));
        }
        producer.flush();
        List<Sent> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            RecordMetadata md;
            try {
                md = futures.get(i).get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                throw new Scenarios.Failure("send of " + prefix + "-" + i + " failed: " + e.getCause());
            }
            Scenarios.check(md.hasOffset(), "%s-%d: metadata has no offset", prefix, i);
            out.add(new Sent(md.partition(), md.offset(), prefix + "-" + i, committed));
        }
        return out;
    }

    private Map<TopicPartition, OffsetAndMetadata> offsets(long p0, long p1) {
        Map<TopicPartition, OffsetAndMetadata> m = new HashMap<>();
        if (p0 >= 0) {
            m.put(new TopicPartition(topic, 0), new OffsetAndMetadata(p0));
        }
        if (p1 >= 0) {
            m.put(new TopicPartition(topic, 1), new OffsetAndMetadata(p1));
        }
        return m;
    }

    private void produce() throws Exception {
        // No member, generation -1: the transactional id alone fences, as
        // Tide's own transactional producers commit.
        ConsumerGroupMetadata groupMetadata = new ConsumerGroupMetadata(group);
        KafkaProducer<String, String> first = newProducer("tide-interop-java-txn-1");
        try {
            first.initTransactions();

            first.beginTransaction();
            List<Sent> one = send(first, "committed-1", BATCH, true);
            first.sendOffsetsToTransaction(offsets(7, -1), groupMetadata);
            first.commitTransaction();
            sent.addAll(one);
            Scenarios.log("committed " + BATCH + " records with offset " + topic + "[0]=7");

            first.beginTransaction();
            sent.addAll(send(first, "aborted", BATCH, false));
            first.abortTransaction();
            Scenarios.log("aborted " + BATCH + " records");

            first.beginTransaction();
            List<Sent> two = send(first, "committed-2", BATCH, true);
            first.sendOffsetsToTransaction(offsets(9, 4), groupMetadata);
            first.commitTransaction();
            sent.addAll(two);
            Scenarios.log("committed " + BATCH + " records with offsets " + topic + "[0]=9 [1]=4");

            first.beginTransaction();
            sent.addAll(send(first, "fenced", FENCED, false));
            try (KafkaProducer<String, String> second = newProducer("tide-interop-java-txn-2")) {
                second.initTransactions(); // fences first, aborting its transaction
                Scenarios.log("second producer initialised: the first is fenced");
                try {
                    first.sendOffsetsToTransaction(offsets(1, 1), groupMetadata);
                    first.commitTransaction();
                    throw new Scenarios.Failure("the fenced producer committed");
                } catch (ProducerFencedException | InvalidProducerEpochException e) {
                    Scenarios.log("fenced producer's commit failed as it must: " + e);
                } catch (KafkaException e) {
                    if (!(e.getCause() instanceof ProducerFencedException || e.getCause() instanceof InvalidProducerEpochException)) {
                        throw new Scenarios.Failure("fenced producer's commit: " + e + ", want ProducerFencedException");
                    }
                    Scenarios.log("fenced producer's commit failed as it must: " + e);
                }
                second.beginTransaction();
                sent.addAll(send(second, "committed-3", BATCH, true));
                second.commitTransaction();
                Scenarios.log("second producer committed " + BATCH + " records");
            }
        } finally {
            first.close(Duration.ofSeconds(5));
        }
    }

    /**
     * Reads every partition from the start, group-less, and checks what it
     * gets against what was sent: the committed records only when
     * readCommitted, all of them otherwise.
     */
    private void consume(boolean readCommitted) {
        String level = readCommitted ? "read_committed" : "read_uncommitted";
        Map<String, Sent> want = new HashMap<>();
        for (Sent s : sent) {
            if (s.committed() || !readCommitted) {
                want.put(s.value(), s);
            }
        }
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "tide-interop-java-txn-" + level);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, level);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < PARTITIONS; i++) {
            tps.add(new TopicPartition(topic, i));
        }
        Map<String, Integer> seen = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < quietUntil) {
                Scenarios.check(System.nanoTime() < until, "%s consumer read %d of %d records in 30 s",
                        level, seen.size(), want.size());
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    Sent w = want.get(r.value());
                    Scenarios.check(w != null, "%s consumer read %s at %d@%d, which it must not see",
                            level, r.value(), r.partition(), r.offset());
                    Scenarios.check(w.partition() == r.partition() && w.offset() == r.offset(),
                            "%s consumer read %s at %d@%d, sent to %d@%d", level, r.value(), r.partition(),
                            r.offset(), w.partition(), w.offset());
                    int n = seen.merge(r.value(), 1, Integer::sum);
                    Scenarios.check(n == 1, "%s consumer read %s twice", level, r.value());
                }
                if (seen.size() == want.size() && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.nanoTime() + Duration.ofMillis(1000).toNanos(); // nothing more may come
                }
            }
            if (readCommitted) {
                // Past the last transaction's marker: nothing is held back.
                Map<TopicPartition, Long> ends = consumer.endOffsets(tps, OP_TIMEOUT);
                for (TopicPartition tp : tps) {
                    long pos = consumer.position(tp, OP_TIMEOUT);
                    Scenarios.check(pos == ends.get(tp), "%s consumer at %s position %d, end offset %d",
                            level, tp, pos, ends.get(tp));
                }
            }
        }
        Scenarios.log(level + " consumer read exactly the " + want.size() + " records it must");
    }
}
