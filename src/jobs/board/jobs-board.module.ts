import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { type BullBoardInstance, BullBoardModule, InjectBullBoard } from '@bull-board/nestjs';
import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { JobQueues } from '../job-queues.js';
import { JobsCoreModule } from '../jobs-core.module.js';

export const BOARD_ROUTE = '/admin/queues';

/** A loopback address, IPv4, IPv6 or IPv4-mapped. */
export const isLoopback = (address: string | undefined) => /^(::1$|127\.|::ffff:127\.)/.test(address ?? '');

/**
 * Until authentication exists, the board (which can retry and delete jobs,
 * and shows payloads) answers only clients on this machine; once auth lands
 * this becomes the admin check. "On this machine" is judged on the socket's
 * address, never on `req.ip`: that one follows X-Forwarded-For from any
 * trusted proxy, which a peer on the same network can forge.
 */
function adminOnly(req: Request, res: Response, next: NextFunction): void {
  if (isLoopback(req.socket.remoteAddress)) return next();
  res
    .status(403)
    .json({ statusCode: 403, error: 'Forbidden', message: 'the job board is available from localhost only' });
}

@Injectable()
class BoardQueues implements OnModuleInit {
  constructor(
    @InjectBullBoard() private readonly board: BullBoardInstance,
    private readonly queues: JobQueues,
  ) {}

  onModuleInit(): void {
    for (const queue of this.queues.all())
      this.board.addQueue(new BullMQAdapter(queue, { readOnlyMode: false }));
  }
}

/** The BullMQ board at /admin/queues (api role). */
@Module({
  imports: [
    JobsCoreModule,
    BullBoardModule.forRoot({
      route: BOARD_ROUTE,
      adapter: ExpressAdapter,
      middleware: adminOnly,
      boardOptions: { uiConfig: { boardTitle: 'Squall jobs' } },
    }),
  ],
  providers: [BoardQueues],
})
export class JobsBoardModule {}
