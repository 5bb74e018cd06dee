/**
 * How much one connection may have read but not yet served: past either
 * bound the socket stops being read (TCP backpressure on the client) until
 * the backlog drains. Counting bytes as well as frames keeps the memory a
 * flooding client can pin near `maxBytes` (plus one frame), whatever
 * MAX_MESSAGE_BYTES is.
 */
export class ReadBudget {
  private frames = 0;
  private bytes = 0;
  private paused = false;

  constructor(
    private readonly maxFrames: number,
    private readonly maxBytes: number,
    protected readonly control: { pause(): void; resume(): void },
  ) {}

  read(size: number): void {
    this.frames++;
    this.bytes += size;
    if (!this.paused && (this.frames >= this.maxFrames || this.bytes >= this.maxBytes)) {
      this.paused = true;
      this.control.pause();
    }
  }

  served(size: number): void {
    this.frames--;
    this.bytes -= size;
    if (this.paused && this.frames < this.maxFrames && this.bytes < this.maxBytes) {
      this.paused = false;
      this.control.resume();
    }
  }
}
