import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { type BullBoardInstance, BullBoardModule, InjectBullBoard } from '@bull-board/nestjs';
import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { JobQueues } from '../job-queues.js';
import { JobsCoreModule } from '../jobs-core.module.js';

export const BOARD_ROUTE = '/admin/queues';

/**
 * Where the admin check goes once auth exists: the board can retry, promote
 * and delete jobs, so it must never be public. Until then it is on only where
 * BULL_BOARD_ENABLED says (by default everywhere but production).
 */
function adminOnly(_req: Request, _res: Response, next: NextFunction): void {
  next();
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
