import { ReadBudget } from './read-budget.js';

describe('ReadBudget', () => {
  const make = () => {
    const calls: string[] = [];
    const budget = new ReadBudget(3, 100, {
      pause: () => calls.push('pause'),
      resume: () => calls.push('resume'),
    });
    return { budget, calls };
  };

  it('pauses at the frame bound and resumes once below it, once each', () => {
    const { budget, calls } = make();
    [1, 1, 1, 1].forEach((n) => budget.read(n));
    expect(calls).toEqual(['pause']);
    budget.served(1);
    expect(calls).toEqual(['pause']); // 3 still waiting
    budget.served(1);
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('pauses at the byte bound even with few frames, and resumes when both are below', () => {
    const { budget, calls } = make();
    budget.read(150);
    expect(calls).toEqual(['pause']);
    budget.read(1);
    budget.served(150);
    expect(calls).toEqual(['pause', 'resume']);
  });
});
