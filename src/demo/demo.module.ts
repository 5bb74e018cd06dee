import { Module } from '@nestjs/common';
import { CpuJob } from './cpu.job.js';
import { EdgeJob } from './edge.job.js';
import { FailJob } from './fail.job.js';
import { SleepJob } from './sleep.job.js';

/**
 * Demo job types (demo.sleep, demo.fail, demo.cpu, demo.edge). Delete this directory
 * and its line in app.module.ts to remove them; nothing else refers to them.
 */
@Module({ providers: [SleepJob, FailJob, CpuJob, EdgeJob] })
export class DemoModule {}
