// OutputTail keeps the last `limit` bytes in one ring buffer, and its text
// never takes more than `limit` bytes of UTF-8, whatever the bytes were.
import t from 'tap';
import { OutputTail } from '../../../server/dispatch/output-tail.js';
import { OutputBuffer } from '../../../agent/output-buffer.js';

t.test('the tail of many chunks of any size', async (t) => {
  const tail = new OutputTail(10_000);
  const all: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const chunk = Buffer.alloc((i * 7) % 23 + 1, 97 + (i % 26));
    all.push(chunk);
    tail.write(chunk);
  }
  const whole = Buffer.concat(all);
  t.equal(tail.text(), whole.subarray(whole.length - 10_000).toString());
  t.ok(tail.truncated);
  tail.write(Buffer.alloc(25_000, 98));
  t.equal(tail.text(), 'b'.repeat(10_000), 'a chunk larger than the limit keeps its end');
  const short = new OutputTail(100);
  short.write(Buffer.from('hi\n'));
  t.equal(short.text(), 'hi\n');
  t.notOk(short.truncated);
});

t.test('invalid UTF-8 is not stored larger than the limit', async (t) => {
  const tail = new OutputTail(1000);
  tail.write(Buffer.alloc(1000, 0xff));
  const text = tail.text();
  t.ok(Buffer.byteLength(text) <= 1000, `${Buffer.byteLength(text)} bytes of text`);
  t.equal(text, '\ufffd'.repeat(333), 'as many replacement characters as fit');
  t.ok(tail.truncated, 'and it says something was cut');
  const nul = new OutputTail(1000);
  nul.write(Buffer.alloc(1000));
  t.equal(nul.text(), '\u0000'.repeat(1000));
  t.notOk(nul.truncated);
});

t.test("the agent's buffer keeps the tail and sends from any offset", async (t) => {
  const b = new OutputBuffer(1000);
  for (let i = 0; i < 500; i++) b.write(Buffer.from(String(i % 10).repeat(7)));
  t.equal(b.total, 3500);
  const kept = b.from(0);
  t.equal(kept.length, 1000);
  t.equal(b.from(3000).toString(), kept.subarray(500).toString());
  b.setLimit(10);
  t.equal(b.from(0).toString(), kept.subarray(990).toString(), 'a smaller limit keeps the newest bytes');
  b.write(Buffer.from('abc'));
  t.equal(b.from(3500).toString(), 'abc');
});
