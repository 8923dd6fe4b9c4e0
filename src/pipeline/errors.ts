import { SwitchyardError } from '../cancel/errors.ts';
import type { PipelineReport } from './types.ts';

/**
 * A run could not go on for a reason that is not one item's fault: the source threw, the
 * journal could not commit, a stage function broke the runtime. The run drained or stopped,
 * flushed its journal, and rejects with this; `cause` is the error, `report` the figures so far
 * (they reconcile like any report's).
 */
export class PipelineError extends SwitchyardError {
  readonly report: PipelineReport;

  constructor(message: string, report: PipelineReport, options?: ErrorOptions) {
    super(message, 'ERR_SWITCHYARD_PIPELINE', options);
    this.report = report;
  }

  static {
    PipelineError.prototype.name = 'PipelineError';
  }
}
