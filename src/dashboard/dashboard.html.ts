/**
 * The dashboard page: plain HTML and a little CSS; all behaviour is in
 * /dashboard/app.js (web/main.ts). Element ids and data-testid attributes
 * are what the script and the browser test (test/dashboard/) look for.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Squall dashboard</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1c2330; background: #f4f6f9; }
  body { margin: 0; }
  header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #1c2330; color: #fff; }
  header h1 { font-size: 1.1rem; margin: 0; }
  header .grow { flex: 1; }
  header input { width: 16rem; }
  #status { font-size: .85rem; padding: .15rem .5rem; border-radius: 1rem; background: #555; }
  #status[data-state="connected"] { background: #1f7a3d; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; padding: 1rem; }
  section { background: #fff; border-radius: 6px; padding: .8rem 1rem; box-shadow: 0 1px 2px #0002; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 1rem; margin: 0 0 .6rem; }
  table { border-collapse: collapse; width: 100%; font-size: .85rem; }
  th, td { text-align: left; padding: .25rem .4rem; border-bottom: 1px solid #e3e6eb; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  form { display: flex; gap: .4rem; margin-bottom: .6rem; flex-wrap: wrap; align-items: center; }
  label { font-size: .85rem; }
  input, button { font: inherit; padding: .25rem .5rem; }
  #messages { height: 14rem; overflow-y: auto; font-family: ui-monospace, monospace; font-size: .8rem; background: #f8f9fb; padding: .4rem; margin: 0; list-style: none; }
  #messages .seq { color: #6a7385; margin-right: .5rem; }
  progress { width: 100%; height: 1rem; }
  .muted { color: #6a7385; font-size: .8rem; }
</style>
</head>
<body>
<header>
  <h1>Squall</h1>
  <span id="status" data-testid="status" data-state="idle">idle</span>
  <span class="grow"></span>
  <label>token <input id="token" type="password" placeholder="none (auth off)" autocomplete="off"></label>
  <button id="reconnect" type="button">Reconnect</button>
</header>
<main>
  <section class="wide">
    <h2>Instances <span class="muted">(from <code>sys:stats</code>)</span></h2>
    <table data-testid="instances">
      <thead><tr>
        <th>instance</th><th>roles</th><th>ws</th><th>sse</th><th>long polls</th><th>subscriptions</th>
        <th>msg/s in</th><th>msg/s out</th><th>queue depth</th><th>updated</th>
      </tr></thead>
      <tbody id="instances"></tbody>
    </table>
    <p class="muted">Total connections: <span id="total-connections" data-testid="total-connections">0</span>,
      subscriptions: <span id="total-subscriptions" data-testid="total-subscriptions">0</span></p>
  </section>
  <section>
    <h2>Channel</h2>
    <form id="subscribe-form">
      <label>channel <input id="channel" value="chat:lobby" required></label>
      <button type="submit">Subscribe</button>
    </form>
    <ul id="messages" data-testid="messages"></ul>
    <form id="publish-form">
      <input id="text" placeholder="message" aria-label="message" size="30" required>
      <button type="submit">Publish</button>
    </form>
    <p class="muted" id="channel-status"></p>
  </section>
  <section>
    <h2>Jobs</h2>
    <form id="job-form">
      <label>type <input id="job-type" value="demo.sleep" size="12" required></label>
      <label>ms <input id="job-ms" type="number" value="3000" min="0" style="width: 5rem"></label>
      <label>steps <input id="job-steps" type="number" value="5" min="1" style="width: 3.5rem"></label>
      <button type="submit">Submit</button>
    </form>
    <progress id="job-progress" data-testid="job-progress" max="100" value="0"></progress>
    <p class="muted" id="job-status" data-testid="job-status">no job yet</p>
    <table><thead><tr><th>id</th><th>type</th><th>state</th><th>progress</th><th>created</th></tr></thead>
      <tbody id="jobs" data-testid="jobs"></tbody></table>
  </section>
</main>
<script type="module" src="/dashboard/app.js"></script>
</body>
</html>
`;
