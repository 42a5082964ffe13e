import t from 'tap';
import { coalescedLines } from '../../../server/observe/coalesced-lines.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('the lines of one turn go out in one write, in order, once the turn is done', async (t) => {
  const writes: string[] = [];
  const lines = coalescedLines((text) => writes.push(text));
  lines.write('a\n');
  lines.write('b\n');
  lines.write('c\n');
  t.same(writes, [], 'nothing before the turn ends');
  await turn();
  t.same(writes, ['a\nb\nc\n']);
  lines.write('d\n');
  await turn();
  t.same(writes, ['a\nb\nc\n', 'd\n'], 'a lone line a turn later');
});

t.test('flush writes what waits at once; a full buffer is written without waiting', async (t) => {
  const writes: string[] = [];
  const lines = coalescedLines((text) => writes.push(text), 10);
  lines.write('12345\n');
  lines.flush();
  t.same(writes, ['12345\n'], 'flushed');
  lines.flush();
  t.equal(writes.length, 1, 'nothing waits: no empty write');
  lines.write('abcd\n');
  lines.write('efgh\n');
  t.same(writes, ['12345\n', 'abcd\nefgh\n'], 'ten bytes: written at once');
  lines.write('x'.repeat(30) + '\n');
  t.equal(writes.length, 3, 'a line bigger than the bound goes alone, at once');
  await turn();
  t.equal(writes.length, 3);
});
