/* global fetch, WebSocket, AbortSignal, performance */
/**
 * docker/smoke.sh's client: what a user of the deployed service does, with
 * Node's own fetch and WebSocket (Node 22), no dependency. One check per run;
 * prints what it saw and exits 0 (passed), 1 (failed) or 3 (skipped).
 *
 *   node docker/smoke-client.mjs ready|live|ws|job <base URL> [token]
 */
const [check, base, token] = process.argv.slice(2);
const TIMEOUT_MS = 60_000;
const headers = {
  'content-type': 'application/json',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
};
const wsUrl = () =>
  `${base.replace(/^http/, 'ws')}/v1/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;

const fail = (message) => {
  process.stdout.write(`${message}\n`);
  process.exit(1);
};
const done = (message, code = 0) => {
  process.stdout.write(`${message}\n`);
  process.exit(code);
};
setTimeout(() => fail(`no answer within ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS).unref();

/** Resolves when GET `path` answers 200; retries while the process starts. */
async function untilOk(path) {
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(base + path, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    if (performance.now() > TIMEOUT_MS - 2500) fail(`${path} not 200: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A WebSocket whose frames are awaited one predicate at a time. */
async function openWs() {
  const ws = new WebSocket(wsUrl());
  const frames = [];
  const waiters = new Set();
  ws.addEventListener('message', (e) => {
    const frame = JSON.parse(e.data);
    frames.push(frame);
    for (const w of waiters) w();
  });
  ws.addEventListener('close', (e) => fail(`WebSocket closed: ${e.code} ${e.reason}`));
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', () => reject(new Error(`WebSocket to ${wsUrl()} failed`)), { once: true });
  });
  const next = (pred) =>
    new Promise((resolve) => {
      const look = () => {
        const i = frames.findIndex(pred);
        if (i < 0) return;
        waiters.delete(look);
        resolve(frames.splice(i, 1)[0]);
      };
      waiters.add(look);
      look();
    });
  return { ws, next, send: (frame) => ws.send(JSON.stringify(frame)) };
}

if (check === 'ready' || check === 'live') {
  await untilOk(`/health/${check}`);
  done(`/health/${check} answered 200`);
}

if (check === 'ws') {
  const channel = `smoke:${process.pid}`;
  const sub = await openWs();
  const pub = await openWs();
  sub.send({ event: 'subscribe', data: { channel }, ref: 's' });
  const subscribed = await sub.next((f) => f.ref === 's');
  if (subscribed.event !== 'subscribed') fail(`subscribe answered ${JSON.stringify(subscribed)}`);
  const text = `hello ${Date.now()}`;
  pub.send({ event: 'publish', data: { channel, data: { text } }, ref: 'p' });
  const ack = await pub.next((f) => f.ref === 'p');
  if (ack.event !== 'ack') fail(`publish answered ${JSON.stringify(ack)}`);
  const message = await sub.next((f) => f.event === 'message');
  if (message.data.channel !== channel || message.data.data?.text !== text) {
    fail(`received ${JSON.stringify(message)}`);
  }
  sub.ws.close();
  pub.ws.close();
  done(`published on one connection, received on another: ${channel} seq ${message.data.seq}`);
}

if (check === 'job') {
  const types = await (await fetch(`${base}/v1/jobs/types`, { headers })).json();
  const names = (types.types ?? []).map((t) => t.name);
  // The demo job types ship unless the demo was deleted (src/demo), which is meant to be possible.
  if (!names.includes('demo.sleep'))
    done(`no job type demo.sleep (the demo was deleted?): types ${names}`, 3);
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ type: 'demo.sleep', payload: { ms: 200, steps: 2 } }),
  });
  if (res.status !== 202) fail(`POST /v1/jobs answered ${res.status} ${await res.text()}`);
  const job = await res.json();
  // The job's events arrive on its channel; `after: 0` replays those already published.
  const sub = await openWs();
  sub.send({ event: 'subscribe', data: { channel: `job:${job.id}`, after: 0 }, ref: 'j' });
  const subscribed = await sub.next((f) => f.ref === 'j');
  if (subscribed.event !== 'subscribed')
    fail(`subscribe to job:${job.id} answered ${JSON.stringify(subscribed)}`);
  const final = await sub.next(
    (f) => f.event === 'message' && ['completed', 'failed', 'cancelled'].includes(f.data.data?.job?.state),
  );
  const { state, result } = final.data.data.job;
  if (state !== 'completed') fail(`job ${job.id} ended ${state}`);
  sub.ws.close();
  done(
    `job ${job.id} (demo.sleep) completed on a worker, result ${JSON.stringify(result)}, seen over WebSocket`,
  );
}

fail(`unknown check ${check}`);
