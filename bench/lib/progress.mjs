/**
 * A progress bar on stderr for one scenario: elapsed time against the
 * scenario's expected duration, plus its latest phase (the last `[bench]`
 * line it logged). On a terminal the bar is redrawn in place; otherwise (CI,
 * a file) a plain line is written every `plainEveryMs`, so logs stay readable.
 * The percentage is time-based and capped at 99 % until the scenario ends:
 * it says how far along the expected duration is, not how much work is left.
 */
import process from 'node:process';

const WIDTH = 28;

export function startBar(label, expectedSec, { stream = process.stderr, plainEveryMs = 15_000 } = {}) {
  const tty = Boolean(stream.isTTY);
  const t0 = Date.now();
  let phase = '';
  let drawn = false;
  const text = () => {
    const elapsed = (Date.now() - t0) / 1000;
    const frac = Math.min(0.99, elapsed / Math.max(1, expectedSec));
    const filled = Math.round(frac * WIDTH);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}`;
    return `[${bar}] ${String(Math.floor(frac * 100)).padStart(2)}% ${label} ${elapsed.toFixed(0)}s/~${expectedSec.toFixed(0)}s ${phase}`;
  };
  const draw = () => {
    if (!tty) return;
    const cols = stream.columns || 100;
    stream.write(`\r\x1b[2K${text().slice(0, cols - 1)}`);
    drawn = true;
  };
  const timer = setInterval(
    () => (tty ? draw() : stream.write(`[bench] ${text().replace(/^\[[#-]+\] /, '')}\n`)),
    tty ? 250 : plainEveryMs,
  );
  timer.unref();
  draw();
  return {
    /** Clears the bar so a line can be written to the terminal, then `redraw()` puts it back. */
    clear() {
      if (tty && drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
    redraw: draw,
    phase(p) {
      phase = p;
      draw();
    },
    end() {
      clearInterval(timer);
      this.clear();
    },
  };
}
