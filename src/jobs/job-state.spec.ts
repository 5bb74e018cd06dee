import { JOB_STATES, canTransition, eventFor, fromStates, isFinal, isJobState } from './job-state.js';

describe('job state machine', () => {
  it('never leaves a final state', () => {
    for (const from of JOB_STATES.filter(isFinal)) {
      for (const to of JOB_STATES) expect(canTransition(from, to)).toBe(false);
    }
  });

  it('never goes back to queued from a final state, and completes only from active', () => {
    expect(fromStates('queued')).toEqual(['active']);
    expect(fromStates('completed')).toEqual(['active']);
  });

  it('activates from queued, and from active (takeover after a stall)', () => {
    expect(fromStates('active')).toEqual(['queued', 'active']);
  });

  it('cancels and fails only pending jobs', () => {
    expect(fromStates('cancelled')).toEqual(['queued', 'active']);
    expect(fromStates('failed')).toEqual(['queued', 'active']);
  });

  it('announces every state but queued', () => {
    expect(eventFor('queued')).toBeNull();
    expect(eventFor('active')).toBe('active');
    expect(eventFor('cancelled')).toBe('cancelled');
  });

  it('recognises states', () => {
    expect(isJobState('active')).toBe(true);
    expect(isJobState('delayed')).toBe(false);
    expect(isJobState(undefined)).toBe(false);
  });
});
