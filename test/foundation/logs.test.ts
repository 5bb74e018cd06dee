import { startInstance, stopAllInstances } from '../support/instance.js';
import { waitFor } from '../support/wait-for.js';
import { TestClient } from '../support/ws-client.js';

afterAll(stopAllInstances);

/** Log lines as an operator's log search sees them: JSON with ids as fields, not inside the text. */
describe('structured logs', () => {
  it('WebSocket lines carry the connection id and every line the instance', async () => {
    const instance = await startInstance({ ROLE: 'gateway', LOG_LEVEL: 'debug' });
    const client = await TestClient.connect(instance.wsUrl);
    client.send('{"event":"subscribe","data":{"channel":"x"}'); // not JSON: answered, not logged as an error
    await client.until(() => client.frames.find((f) => f.event === 'error'), 'the error frame');
    client.close();
    await client.closed;
    const lines = () =>
      instance
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitFor(() => lines().some((l) => l.msg === 'disconnected'), { what: 'the disconnect line' });
    const connected = lines().find((l) => l.msg === 'connected')!;
    const disconnected = lines().find((l) => l.msg === 'disconnected')!;
    expect(connected.connId).toMatch(/^ws:\d+$/);
    expect(disconnected.connId).toBe(connected.connId);
    for (const line of lines()) expect(line.instance).toMatch(/:\d+$/);
  });
});
