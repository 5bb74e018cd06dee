import { Module } from '@nestjs/common';
import { EdgeJob } from './edge.job.js';
import { TestFailJob, TestSleepJob } from './test-jobs.js';

/** The job types the test suite submits: test.sleep, test.fail, test.edge. */
@Module({ providers: [TestSleepJob, TestFailJob, EdgeJob] })
export default class TestJobsModule {}
