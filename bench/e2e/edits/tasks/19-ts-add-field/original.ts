// batch_jobs.ts - in-memory queue for offline batch completion jobs.
//
// A batch job is a file of prompts submitted through the admin UI. Jobs run
// one at a time; the queue tracks progress so the UI can poll it.

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface BatchJob {
  id: string;
  inputFile: string;
  totalPrompts: number;
  completedPrompts: number;
  state: JobState;
  createdAt: number;
  error?: string;
}

let nextId = 1;

export function createJob(inputFile: string, totalPrompts: number): BatchJob {
  if (totalPrompts <= 0) {
    throw new RangeError('a batch job needs at least one prompt');
  }
  return {
    id: `batch_${String(nextId++).padStart(6, '0')}`,
    inputFile,
    totalPrompts,
    completedPrompts: 0,
    state: 'queued',
    createdAt: Date.now(),
  };
}

export function progress(job: BatchJob): number {
  return job.totalPrompts === 0 ? 0 : job.completedPrompts / job.totalPrompts;
}

export class JobQueue {
  private readonly jobs = new Map<string, BatchJob>();
  private readonly order: string[] = [];

  submit(inputFile: string, totalPrompts: number): BatchJob {
    const job = createJob(inputFile, totalPrompts);
    this.jobs.set(job.id, job);
    this.order.push(job.id);
    return job;
  }

  get(id: string): BatchJob | undefined {
    return this.jobs.get(id);
  }

  // Returns the oldest queued job and marks it running, or undefined.
  startNext(): BatchJob | undefined {
    if (this.running()) {
      return undefined;
    }
    for (const id of this.order) {
      const job = this.jobs.get(id)!;
      if (job.state === 'queued') {
        job.state = 'running';
        return job;
      }
    }
    return undefined;
  }

  running(): BatchJob | undefined {
    for (const job of this.jobs.values()) {
      if (job.state === 'running') return job;
    }
    return undefined;
  }

  recordProgress(id: string, completed: number): void {
    const job = this.mustGet(id);
    job.completedPrompts = Math.min(job.totalPrompts, completed);
    if (job.completedPrompts === job.totalPrompts) {
      job.state = 'succeeded';
    }
  }

  fail(id: string, error: string): void {
    const job = this.mustGet(id);
    job.state = 'failed';
    job.error = error;
  }

  // Puts a failed job back in the queue, keeping its progress.
  retry(id: string): void {
    const job = this.mustGet(id);
    if (job.state !== 'failed') {
      throw new Error(`job ${id} is ${job.state}, only failed jobs can be retried`);
    }
    job.state = 'queued';
    job.error = undefined;
  }

  cancel(id: string): boolean {
    const job = this.mustGet(id);
    if (job.state === 'queued' || job.state === 'running') {
      job.state = 'cancelled';
      return true;
    }
    return false;
  }

  list(): BatchJob[] {
    return this.order.map((id) => this.jobs.get(id)!);
  }

  private mustGet(id: string): BatchJob {
    const job = this.jobs.get(id);
    if (!job) {
      throw new Error(`no such job: ${id}`);
    }
    return job;
  }
}
