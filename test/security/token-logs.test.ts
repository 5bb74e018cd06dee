import { startInstance, stopAllInstances } from '../support/instance.js';
import { bearer, call, signToken, tokenOf, TOKEN_ENV, WRONG_SECRET } from '../support/auth.js';

afterAll(async () => {
  await stopAllInstances();
});

describe('secrets hygiene', () => {
  it('logs no token, Authorization header or cookie from a run that used them every way', async () => {
    const instance = await startInstance({ ...TOKEN_ENV, LOG_LEVEL: 'info' });
    const channel = `chat:logs-${Date.now().toString(36)}`;
    const user = (await tokenOf('chatUser'))!;
    const admin = (await tokenOf('admin'))!;
    const forged = await signToken({ sub: 'mallory' }, { secret: WRONG_SECRET });
    const tokens = [user, admin, forged];

    expect(
      (
        await call(`${instance.url}/v1/channels/${channel}/messages`, {
          method: 'POST',
          headers: { ...bearer(user), 'content-type': 'application/json' },
          body: JSON.stringify({ data: 1 }),
        })
      ).status,
    ).toBe(201);
    expect((await call(`${instance.url}/v1/channels/${channel}/messages?token=${user}`)).status).toBe(200);
    expect((await call(`${instance.url}/v1/channels/${channel}/poll?timeout=0&token=${user}`)).status).toBe(
      200,
    );
    expect((await call(`${instance.url}/v1/channels/${channel}?token=${forged}`)).status).toBe(401);
    expect((await call(`${instance.url}/v1/channels/${channel}`, { headers: bearer(forged) })).status).toBe(
      401,
    );
    const board = await fetch(`${instance.url}/admin/queues?token=${admin}`, { redirect: 'manual' });
    expect(board.status).toBe(303);
    const cookie = board.headers.get('set-cookie')!.split(';')[0];
    expect((await fetch(`${instance.url}/admin/queues`, { headers: { cookie } })).status).toBe(200);

    await instance.stop();
    const log = instance.output();
    // The requests were logged, with the token redacted...
    expect(log).toContain('token=[redacted]');
    expect(log).toContain('/admin/queues');
    // ...and no token, nor its signature alone, appears anywhere.
    for (const token of tokens) {
      expect(log).not.toContain(token);
      expect(log).not.toContain(token.split('.')[2]);
    }
    expect(log.toLowerCase()).not.toMatch(/"authorization":"bearer|"cookie":"squall_board/);
  });
});
