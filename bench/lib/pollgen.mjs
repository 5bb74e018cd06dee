/**
 * A long-poll load generator, forked by the long poll scenario (through
 * lib/loadgens.mjs LoadGen). Like bench/loadgen.mjs's pollStart/pollWait, but
 * spreads its polls over many channels, each with its own `after`, so one
 * round can wake 10,000 polls over 100 channels with one publish per channel.
 * Answers `{id, cmd, args}` over IPC; exits when its parent goes away.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Histogram } from './hist.mjs';
import { serveCommands } from './worker-ipc.mjs';

const now = () => performance.timeOrigin + performance.now();
let polls = [];
const agents = new Map();

function sample(list, item, max = 5) {
  if (list.length < max) list.push(item);
}

function agentFor(addr) {
  let agent = agents.get(addr);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, localAddress: addr });
    agents.set(addr, agent);
  }
  return agent;
}

const commands = {
  /** `count` polls; poll i waits on channels[(offset + i) % channels.length] ({name, after}). */
  pollStart({ base, channels, offset = 0, timeoutSec, count, addrs }) {
    polls = [];
    const u = new URL(base);
    for (let i = 0; i < count; i++) {
      const ch = channels[(offset + i) % channels.length];
      const agent = agentFor(addrs[i % addrs.length]);
      polls.push(
        new Promise((resolve) => {
          const req = http.get(
            {
              host: u.hostname,
              port: u.port,
              path: `/v1/channels/${encodeURIComponent(ch.name)}/poll?after=${ch.after}&timeout=${timeoutSec}`,
              agent,
            },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (d) => (body += d));
              res.on('end', () => resolve({ status: res.statusCode, body, recv: now() }));
              res.on('error', (err) => resolve({ status: 0, error: err.message, recv: now() }));
            },
          );
          req.on('error', (err) => resolve({ status: 0, error: err.message, recv: now() }));
        }),
      );
    }
    return { started: count };
  },

  /** Waits for every poll; latency = receive time − the `ts` the publisher put in the message. */
  async pollWait({ timeoutMs = 60_000 }) {
    const results = await Promise.race([Promise.all(polls), sleep(timeoutMs).then(() => null)]);
    if (!results) return { timedOut: true };
    const hist = new Histogram();
    const statuses = {};
    let empty = 0;
    let lastRecv = -Infinity;
    const errors = [];
    for (const r of results) {
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.error) sample(errors, r.error);
      if (r.status !== 200) {
        sample(errors, `status ${r.status}: ${String(r.body ?? '').slice(0, 200)}`);
        continue;
      }
      let page;
      try {
        page = JSON.parse(r.body);
      } catch {
        sample(errors, `bad body: ${r.body.slice(0, 200)}`);
        continue;
      }
      const ts = page.messages?.[0]?.data?.ts;
      if (typeof ts !== 'number') {
        empty++;
        continue;
      }
      hist.record(r.recv - ts);
      lastRecv = Math.max(lastRecv, r.recv);
    }
    polls = [];
    return { hist: hist.toJSON(), statuses, empty, errors, lastRecv };
  },

  closeAgents() {
    for (const a of agents.values()) a.destroy();
    agents.clear();
    return true;
  },

  count() {
    return { pending: polls.length };
  },
};

serveCommands(commands);
