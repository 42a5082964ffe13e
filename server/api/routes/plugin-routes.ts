// GET /v1/plugins: the executors and processors this node has. Answered by
// the node itself (each node has its own plugin directories). The listing is
// handed in by the composition in bin/, which discovers the plugins.

import type { ApiContext } from '../http-api.js';
import { json, type Route } from './route.js';

export interface PluginEntry {
  readonly name: string;
  /** Runs inside the server process (light mode's shell and http). */
  readonly builtin: boolean;
  /** The plugin program, for plugins. */
  readonly path?: string;
}

export interface PluginListing {
  readonly executors: readonly PluginEntry[];
  readonly processors: readonly PluginEntry[];
}

/** What the node has; without a listing from the composition, the dispatcher's executors. */
export function pluginListing(ctx: ApiContext): PluginListing {
  return ctx.plugins ?? { executors: ctx.dispatcher.executors().map((name) => ({ name, builtin: true })), processors: [] };
}

export const pluginRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/plugins$/,
    local: true,
    handle: (_req, ctx) => json(200, { node: ctx.nodeName, ...pluginListing(ctx) }),
  },
];
