import t from 'tap';
import { PassThrough } from 'node:stream';
import { boundedLines } from '../../plugins/sdk/bounded-lines.js';

async function linesOf(chunks: string[], max: number): Promise<[string, boolean][]> {
  const input = new PassThrough();
  const got: [string, boolean][] = [];
  boundedLines(input, max).onLine((line, cut) => got.push([line, cut]));
  const ended = new Promise((resolve) => input.on('end', resolve));
  for (const c of chunks) input.write(c);
  input.end();
  input.resume();
  await ended;
  return got;
}

t.test('whole lines, across chunks, with CRLF and a last line without newline', async (t) => {
  t.same(await linesOf(['ab', 'c\nde\r\n', '\nf'], 10), [['abc', false], ['de', false], ['', false], ['f', false]]);
});

t.test('a long line is cut at the bound and the rest of it dropped', async (t) => {
  t.same(await linesOf(['12345', '6789', '0abc\nok\n'], 4), [['1234', true], ['ok', false]]);
  t.same(await linesOf(['1234\n'], 4), [['1234', false]], 'exactly the bound is whole');
  t.same(await linesOf(['x'.repeat(100)], 8), [['xxxxxxxx', true]]);
});
