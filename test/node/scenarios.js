#!/usr/bin/env node
// kafkajs scenarios against one Kafka-compatible broker, run by Tide's interop
// tests (test/interop/kafkajs_test.go) against real Apache Kafka and Tide alike.
//
//   node scenarios.js BOOTSTRAP TOPIC
//
// TOPIC must be fresh: it is created here with 3 partitions. The scenario:
//   1. two consumers join one new group and wait until the group is stable
//      with the 3 partitions split between them (so no rebalance happens while
//      records flow and "exactly once" is a fair demand);
//   2. a producer sends 1000 keyed records in batches of 50, every other batch
//      gzip-compressed (the only codec kafkajs has without plugins), checking
//      each send's metadata;
//   3. the two consumers between them must see every key exactly once, each
//      with the value and partition it was produced with, and both must get
//      records.
// Exit 0 on success; 1 with "FAIL: ..." on stderr otherwise; 2 on bad usage.
'use strict'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const TOTAL = 1000
const BATCH = 50
const PARTITIONS = 3
const DEADLINE_MS = Number(process.env.SCENARIOS_TIMEOUT_MS || 90000)

const [bootstrap, topic] = process.argv.slice(2)
if (!bootstrap || !topic) {
  console.error('usage: node scenarios.js BOOTSTRAP TOPIC')
  process.exit(2)
}

const fail = (msg) => {
  const err = new Error(msg)
  err.scenarioFailure = true
  return err
}
const log = (...args) => console.log(`[kafkajs ${new Date().toISOString()}]`, ...args)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor (what, timeoutMs, cond) {
  const until = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > until) throw fail(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

async function main () {
  const kafka = new Kafka({
    clientId: 'tide-interop-kafkajs',
    brokers: [bootstrap],
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: logLevel.WARN
  })

  const admin = kafka.admin()
  await admin.connect()
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
    waitForLeaders: true,
    timeout: 15000
  })
  if (!created) throw fail(`topic ${topic} already existed; the caller must pass a fresh name`)
  const meta = await admin.fetchTopicMetadata({ topics: [topic] })
  const parts = meta.topics[0].partitions
  if (parts.length !== PARTITIONS) throw fail(`metadata lists ${parts.length} partitions of ${topic}, want ${PARTITIONS}`)
  log(`created ${topic} with ${parts.length} partitions`)

  // 1. Two consumers in one group; wait for a stable split of the partitions.
  const groupId = `${topic}-kafkajs-group`
  const seen = new Map() // key -> { value, partition, offset, consumer }
  const duplicates = []
  const mismatches = []
  const perConsumer = [0, 0]
  const assignments = [null, null]
  const consumers = [0, 1].map((i) => {
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10000,
      rebalanceTimeout: 10000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 200
    })
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assignments[i] = (e.payload.memberAssignment[topic] || []).slice().sort()
      log(`consumer ${i} joined ${groupId}: member ${e.payload.memberId}, partitions [${assignments[i]}]`)
    })
    consumer.on(consumer.events.CRASH, (e) => log(`consumer ${i} crashed: ${e.payload.error}`))
    return consumer
  })
  for (const [i, consumer] of consumers.entries()) {
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = message.key && message.key.toString()
        const value = message.value && message.value.toString()
        perConsumer[i]++
        if (seen.has(key)) {
          duplicates.push(`${key} (first p${seen.get(key).partition}@${seen.get(key).offset} by consumer ${seen.get(key).consumer}, again p${partition}@${message.offset} by consumer ${i})`)
          return
        }
        seen.set(key, { value, partition, offset: message.offset, consumer: i })
      }
    })
  }
  await waitFor('both consumers to share the 3 partitions', 30000, () => {
    if (!assignments[0] || !assignments[1]) return false
    if (assignments[0].length === 0 || assignments[1].length === 0) return false
    const all = [...assignments[0], ...assignments[1]].sort()
    return all.length === PARTITIONS && all.every((p, idx) => p === idx)
  })

  // 2. Produce 1000 keyed records, every other batch gzip.
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const produced = new Map() // key -> { value, partition }
  for (let start = 0; start < TOTAL; start += BATCH) {
    const messages = []
    for (let n = start; n < start + BATCH; n++) {
      messages.push({ key: `key-${n}`, value: `value-${n}-${'x'.repeat(n % 97)}` })
    }
    const compression = (start / BATCH) % 2 === 0 ? CompressionTypes.GZIP : CompressionTypes.None
    const res = await producer.send({ topic, acks: -1, compression, messages })
    let count = 0
    for (const r of res) {
      if (r.topicName !== topic) throw fail(`send metadata names topic ${r.topicName}, want ${topic}`)
      if (r.errorCode !== 0) throw fail(`send to ${topic}/${r.partition} returned error code ${r.errorCode}`)
      if (!(r.partition >= 0 && r.partition < PARTITIONS)) throw fail(`send metadata has partition ${r.partition}`)
      if (!(Number(r.baseOffset) >= 0)) throw fail(`send metadata has base offset ${r.baseOffset}`)
      count++
    }
    if (count === 0) throw fail('send returned no metadata')
    // kafkajs does not tell which partition each message went to; the
    // consumers check values, and that every partition got some.
    for (const m of messages) produced.set(m.key, { value: m.value })
  }
  await producer.disconnect()
  log(`produced ${produced.size} records (${TOTAL / BATCH} batches, half gzip)`)

  // 3. Consume everything exactly once between the two consumers.
  await waitFor(`${TOTAL} distinct keys (have ${seen.size})`, 45000, () => seen.size >= TOTAL || duplicates.length > 0)
  await sleep(500) // let late duplicates show up
  for (const [key, want] of produced) {
    const got = seen.get(key)
    if (!got) mismatches.push(`${key} never consumed`)
    else if (got.value !== want.value) mismatches.push(`${key}: value ${JSON.stringify(got.value)}, want ${JSON.stringify(want.value)}`)
  }
  for (const key of seen.keys()) if (!produced.has(key)) mismatches.push(`unexpected key ${key}`)
  const partitionsSeen = new Set([...seen.values()].map((s) => s.partition))

  await Promise.all(consumers.map((c) => c.disconnect()))
  await admin.deleteTopics({ topics: [topic], timeout: 15000 }).catch((e) => log(`delete ${topic}: ${e.message}`))
  await admin.disconnect()

  if (duplicates.length) throw fail(`${duplicates.length} records consumed twice, e.g. ${duplicates.slice(0, 3).join('; ')}`)
  if (mismatches.length) throw fail(`${mismatches.length} mismatches, e.g. ${mismatches.slice(0, 5).join('; ')}`)
  if (partitionsSeen.size !== PARTITIONS) throw fail(`records came from partitions [${[...partitionsSeen]}], want all ${PARTITIONS}`)
  if (perConsumer[0] === 0 || perConsumer[1] === 0) throw fail(`one consumer got nothing: consumer 0 ${perConsumer[0]}, consumer 1 ${perConsumer[1]}`)
  log(`ok: ${seen.size} records exactly once (consumer 0: ${perConsumer[0]}, consumer 1: ${perConsumer[1]})`)
}

const watchdog = setTimeout(() => {
  console.error(`FAIL: kafkajs scenarios did not finish within ${DEADLINE_MS} ms`)
  process.exit(1)
}, DEADLINE_MS)

main().then(() => {
  clearTimeout(watchdog)
  process.exit(0)
}, (err) => {
  console.error(`FAIL: ${err.scenarioFailure ? err.message : (err.stack || err)}`)
  process.exit(1)
})
