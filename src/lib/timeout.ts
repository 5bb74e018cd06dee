/** Thrown by {@link withTimeout} when the time is up (unless the caller names another error). */
export class TimeoutError extends Error {}

/**
 * `promise`, or a rejection once `ms` pass: with `what` a {@link TimeoutError}
 * saying what timed out, or the error `onTimeout` makes. The promise keeps
 * running; its late failure is swallowed, so it never becomes unhandled.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: string | (() => Error),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          typeof onTimeout === 'string'
            ? new TimeoutError(`${onTimeout} timed out after ${ms} ms`)
            : onTimeout(),
        ),
      ms,
    );
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
