/**
 * The dashboard's script, bundled with the SDK by esbuild (`npm run build`
 * writes dist/dashboard/public/app.js). It uses only the public client API,
 * as an application would: one client per token, the instances panel fed by
 * `sys:stats`, a channel view, and jobs followed to their final state.
 */
import { type Job, type SquallClient, type Subscription, createClient } from '@squall/client';
import { type InstanceStats, STATS_CHANNEL } from '../stats-message.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLSpanElement>('status');
const tokenInput = $<HTMLInputElement>('token');
const messages = $<HTMLUListElement>('messages');
const channelInput = $<HTMLInputElement>('channel');
const channelStatus = $<HTMLParagraphElement>('channel-status');
const progress = $<HTMLProgressElement>('job-progress');
const jobStatus = $<HTMLParagraphElement>('job-status');

let client: SquallClient;
let channelSub: Subscription | undefined;
const instances = new Map<string, InstanceStats>();

function el(tag: string, text: string, className?: string): HTMLElement {
  const e = document.createElement(tag);
  e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** (Re)creates the client: on load, and when the token changes (the SDK sends it on every connection and request). */
function start(): void {
  // The channel shown carries over to the new client; the old client's subscriptions end with it.
  const channel = channelSub?.channel ?? channelInput.value.trim();
  channelSub = undefined;
  client?.close();
  instances.clear();
  const token = tokenInput.value.trim();
  client = createClient(location.origin, token ? { token } : {});
  client.on('connecting', ({ transport }) => setStatus('connecting', `connecting (${transport})`));
  client.on('connected', ({ transport }) => setStatus('connected', `connected (${transport})`));
  client.on('disconnected', ({ reason }) => setStatus('disconnected', `disconnected: ${reason}`));
  client.on('truncated', ({ channel }) =>
    channelStatus.replaceChildren(`${channel}: older messages were removed`),
  );
  client.subscribe(STATS_CHANNEL, {}, (m) => {
    const stats = m.data as InstanceStats;
    instances.set(stats.instance, stats);
    renderInstances();
  });
  subscribeChannel(channel);
  void refreshJobs();
}

function setStatus(state: string, text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

function renderInstances(): void {
  const now = Date.now();
  const rows: HTMLElement[] = [];
  let connections = 0;
  let subscriptions = 0;
  for (const [id, s] of [...instances].sort(([a], [b]) => a.localeCompare(b))) {
    // An instance that stopped publishing (stopped, or its interval turned off) leaves after three intervals.
    if (now - Date.parse(s.at) > 3 * Math.max(s.intervalMs, 1000)) {
      instances.delete(id);
      continue;
    }
    const c = s.connections;
    connections += (c.ws ?? 0) + (c.sse ?? 0) + (c.long_poll ?? 0);
    subscriptions += s.subscriptions;
    // Only queues with work in them; the full list (one queue per job type) is in /metrics.
    const depth = Object.entries(s.queueDepth)
      .filter(([, n]) => n > 0)
      .map(([q, n]) => `${q}: ${n}`)
      .join(', ');
    const tr = document.createElement('tr');
    tr.dataset.instance = s.instance;
    tr.append(
      el('td', s.instance),
      el('td', s.roles.join(',')),
      el('td', String(c.ws ?? 0), 'num'),
      el('td', String(c.sse ?? 0), 'num'),
      el('td', String(s.pendingLongPolls), 'num'),
      el('td', String(s.subscriptions), 'num'),
      el('td', s.messagesInPerSec.toFixed(1), 'num'),
      el('td', s.messagesOutPerSec.toFixed(1), 'num'),
      el('td', depth || 'idle'),
      el('td', new Date(s.at).toLocaleTimeString()),
    );
    rows.push(tr);
  }
  $('instances').replaceChildren(...rows);
  $('total-connections').textContent = String(connections);
  $('total-subscriptions').textContent = String(subscriptions);
}

function subscribeChannel(channel: string): void {
  channelSub?.unsubscribe();
  messages.replaceChildren();
  delete messages.dataset.ready;
  const sub = client.subscribe(channel, {}, (m) => {
    const li = document.createElement('li');
    li.dataset.seq = String(m.seq);
    const data = m.data as { text?: unknown } | null;
    const text = typeof data?.text === 'string' ? data.text : JSON.stringify(m.data);
    li.append(el('span', `#${m.seq}`, 'seq'), el('span', text, 'text'));
    messages.append(li);
    messages.scrollTop = messages.scrollHeight;
  });
  channelSub = sub;
  channelStatus.textContent = `subscribing to ${channel}…`;
  sub.ready.then(
    () => {
      if (channelSub !== sub) return;
      // The browser test waits for this before publishing from another tab.
      messages.dataset.ready = channel;
      channelStatus.textContent = `subscribed to ${channel}`;
    },
    (err: Error) => {
      if (channelSub === sub) channelStatus.textContent = `${channel}: ${err.message}`;
    },
  );
}

async function refreshJobs(): Promise<void> {
  try {
    const { jobs } = await client.jobs.list({ limit: 10 });
    $('jobs').replaceChildren(...jobs.map(jobRow));
  } catch (err) {
    jobStatus.textContent = `job list: ${(err as Error).message}`;
  }
}

function jobRow(job: Job): HTMLElement {
  const tr = document.createElement('tr');
  tr.dataset.job = job.id;
  tr.append(
    el('td', job.id.slice(0, 8)),
    el('td', job.type),
    el('td', job.state),
    el('td', `${Math.round(job.progress)} %`, 'num'),
    el('td', new Date(job.createdAt).toLocaleTimeString()),
  );
  return tr;
}

async function submitJob(): Promise<void> {
  const type = $<HTMLInputElement>('job-type').value.trim();
  const ms = Number($<HTMLInputElement>('job-ms').value);
  const steps = Number($<HTMLInputElement>('job-steps').value);
  progress.value = 0;
  delete progress.dataset.state;
  try {
    const job = await client.jobs.submit(type, { ms, steps });
    jobStatus.textContent = `${job.id}: ${job.state}`;
    void refreshJobs();
    for await (const { event, job: state } of client.jobs.follow(job.id)) {
      progress.value = state.progress;
      jobStatus.textContent = `${job.id}: ${event} (${Math.round(state.progress)} %)`;
      progress.dataset.state = state.state;
    }
    void refreshJobs();
  } catch (err) {
    jobStatus.textContent = `submit ${type}: ${(err as Error).message}`;
  }
}

$<HTMLFormElement>('subscribe-form').addEventListener('submit', (e) => {
  e.preventDefault();
  subscribeChannel(channelInput.value.trim());
});
$<HTMLFormElement>('publish-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('text');
  const channel = channelSub?.channel ?? channelInput.value.trim();
  client.publish(channel, { text: input.value }).then(
    () => (input.value = ''),
    (err: Error) => (channelStatus.textContent = `publish: ${err.message}`),
  );
});
$<HTMLFormElement>('job-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void submitJob();
});
$('reconnect').addEventListener('click', start);
tokenInput.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') start();
});
// Instances that stop publishing must leave the table even when no message arrives.
setInterval(renderInstances, 2000);
start();
