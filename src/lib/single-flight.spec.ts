import { SingleFlight } from './single-flight.js';

describe('SingleFlight', () => {
  it('runs once for concurrent calls with the same key and gives all of them its result', async () => {
    const flights = new SingleFlight<number>();
    let runs = 0;
    let release!: (n: number) => void;
    const fn = () => (runs++, new Promise<number>((r) => (release = r)));
    const calls = [flights.run('a', fn), flights.run('a', fn), flights.run('a', fn)];
    expect(runs).toBe(1);
    release(7);
    expect(await Promise.all(calls)).toEqual([7, 7, 7]);
    expect(flights.size).toBe(0);
  });

  it('runs separately for different keys, and again once a run has settled', async () => {
    const flights = new SingleFlight<string>();
    let runs = 0;
    const fn = (v: string) => () => (runs++, Promise.resolve(v));
    expect(await Promise.all([flights.run('a', fn('x')), flights.run('b', fn('y'))])).toEqual(['x', 'y']);
    expect(await flights.run('a', fn('z'))).toBe('z');
    expect(runs).toBe(3);
  });

  it('shares a failure with every waiting caller, then forgets it', async () => {
    const flights = new SingleFlight<number>();
    const boom = () => Promise.reject(new Error('down'));
    const results = await Promise.allSettled([flights.run('a', boom), flights.run('a', boom)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(flights.size).toBe(0);
    expect(await flights.run('a', () => Promise.resolve(1))).toBe(1);
  });
});
