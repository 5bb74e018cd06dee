import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { type BullBoardInstance, BullBoardModule, InjectBullBoard } from '@bull-board/nestjs';
import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { JobQueues } from '../job-queues.js';
import { JobsCoreModule } from '../jobs-core.module.js';
import { BoardAccessMiddleware } from './board-access.middleware.js';

export const BOARD_ROUTE = '/admin/queues';

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

/** The BullMQ board at /admin/queues (api role); access: board-access.middleware.ts. */
@Module({
  imports: [
    JobsCoreModule,
    BullBoardModule.forRoot({
      route: BOARD_ROUTE,
      adapter: ExpressAdapter,
      // An admin token (cookie after a first ?token=), or loopback in open mode.
      middleware: BoardAccessMiddleware,
      boardOptions: { uiConfig: { boardTitle: 'Squall jobs' } },
    }),
  ],
  providers: [BoardQueues],
})
export class JobsBoardModule {}
