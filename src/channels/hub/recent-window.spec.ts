import { Envelope } from '../envelope.js';
import { RecentWindow } from './recent-window.js';

const env = (seq: number, bytes = 10) =>
  Envelope.fromRow(
    'c',
    seq,
    '00000000-0000-4000-8000-000000000000',
    JSON.stringify('x'.repeat(bytes)),
    'now',
  );
const seqs = (list?: Envelope[]) => list?.map((e) => e.seq);

describe('RecentWindow', () => {
  it('answers what it holds after a seq, bounded by limit and through', () => {
    const w = new RecentWindow(10, 1 << 20);
    for (let s = 5; s <= 9; s++) w.push(env(s));
    expect(seqs(w.after(4, 100))).toEqual([5, 6, 7, 8, 9]);
    expect(seqs(w.after(6, 2))).toEqual([7, 8]);
    expect(seqs(w.after(5, 100, 7))).toEqual([6, 7]);
    expect(seqs(w.after(9, 100))).toEqual([]);
    expect(w.after(3, 100)).toBeUndefined(); // seq 4 is not held
  });

  it('keeps at most maxCount messages and about maxBytes', () => {
    const byCount = new RecentWindow(3, 1 << 20);
    for (let s = 1; s <= 6; s++) byCount.push(env(s));
    expect(seqs(byCount.after(3, 100))).toEqual([4, 5, 6]);
    expect(byCount.after(2, 100)).toBeUndefined();
    const byBytes = new RecentWindow(100, 250);
    for (let s = 1; s <= 6; s++) byBytes.push(env(s, 100));
    expect(seqs(byBytes.after(5, 100))).toEqual([6]);
    expect(byBytes.after(4, 100)).toBeUndefined();
  });

  it('holds nothing once cleared or when sized 0', () => {
    const w = new RecentWindow(10, 1 << 20);
    w.push(env(1));
    w.clear();
    expect(w.after(0, 10)).toBeUndefined();
    const off = new RecentWindow(0, 1 << 20);
    off.push(env(1));
    expect(off.after(0, 10)).toBeUndefined();
  });
});
