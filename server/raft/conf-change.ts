// ConfChange entries travel in the log as JSON.

import type { ConfChange } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: cc.type, node: cc.node, address: cc.address }));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const v: unknown = JSON.parse(decoder.decode(data));
  if (typeof v === 'object' && v !== null) {
    const { type, node, address } = v as Record<string, unknown>;
    if ((type === 'addVoter' || type === 'addLearner' || type === 'remove') && typeof node === 'string' && typeof address === 'string') {
      return { type, node, address };
    }
  }
  throw new Error(`malformed conf change entry: ${decoder.decode(data)}`);
}
