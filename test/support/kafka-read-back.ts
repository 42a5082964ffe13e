// Reading a topic back with a kafkajs consumer group, for tests against the
// Kafka wire-protocol test server.

import type { Kafka } from 'kafkajs';

export interface ConsumedMessage {
  readonly offset: string;
  readonly key: string | null;
  readonly value: string;
}

/** Consume `topic` in `groupId` until `count` messages arrived (or the deadline passes). */
export async function consume(client: Kafka, groupId: string, topic: string, count: number): Promise<ConsumedMessage[]> {
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 200, retry: { retries: 2 } });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const got: ConsumedMessage[] = [];
    let deadline: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      deadline = setTimeout(() => reject(new Error(`only ${got.length} of ${count} messages arrived`)), 30_000);
      consumer.run({
        eachMessage: async ({ message }) => {
          got.push({ offset: message.offset, key: message.key?.toString() ?? null, value: message.value?.toString() ?? '' });
          if (got.length >= count) resolve();
        },
      }).catch(reject);
    }).finally(() => clearTimeout(deadline));
    return got;
  } finally {
    await consumer.disconnect(); // commits what was consumed, then leaves the group
  }
}
