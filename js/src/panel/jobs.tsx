// Running work (uploads, chats, tasks) with progress and cancel, from the `jobs` trait.

import { useAction } from "./model";
import type { Job } from "./types";
import { ProgressBar } from "./ui";

export function JobRow({ job }: { job: Job }) {
  const [cancel, cancelling] = useAction("cancel");
  return (
    <li class={`md-job md-job-${job.status}`} data-testid="md-job" data-id={job.id}>
      <div class="md-job-text">
        <span class="md-job-label">{job.label}</span>
        <span class="md-job-detail">{job.status === "running" ? job.detail : job.status}</span>
      </div>
      {job.status === "running" && <ProgressBar value={job.progress} label={job.label} />}
      {job.status === "running" && job.cancellable && (
        <button
          type="button"
          class="md-button md-quiet"
          data-testid="md-job-cancel"
          aria-label={`Cancel ${job.label}`}
          disabled={cancelling}
          onClick={() => cancel({ job: job.id })}
        >
          Cancel
        </button>
      )}
    </li>
  );
}

export function JobList({ jobs }: { jobs: readonly Job[] }) {
  if (jobs.length === 0) return null;
  return (
    <ul class="md-jobs" aria-label="Running jobs">
      {jobs.map((job) => (
        <JobRow key={job.id} job={job} />
      ))}
    </ul>
  );
}

/**
 * One line for the live region: the newest job's state. Progress is left out on purpose, so a screen
 * reader hears a job start and end rather than every percent.
 */
export function announce(jobs: readonly Job[]): string {
  const job = jobs[0];
  return job ? `${job.label}: ${job.status}` : "";
}
