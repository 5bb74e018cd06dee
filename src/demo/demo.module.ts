import { Module } from '@nestjs/common';
import { CpuJob } from './cpu.job.js';
import { FailJob } from './fail.job.js';
import { SleepJob } from './sleep.job.js';

/**
 * Demo job types (demo.sleep, demo.fail, demo.cpu). Delete this directory and
 * the two `DemoModule` lines in src/app.module.ts to remove them: nothing else
 * refers to them, and the test suite uses its own job types (src/jobs/testing).
 * CI checks that the project still builds and passes its tests without it.
 */
@Module({ providers: [SleepJob, FailJob, CpuJob] })
export class DemoModule {}
