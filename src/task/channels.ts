import diagnostics from 'node:diagnostics_channel';

/**
 * Published when a cancelled group still has running tasks after `cancelGraceMs`: the tasks
 * ignore their signal. Message: `{ group, reason, graceMs, tasks: TaskInfo[] }`.
 */
export const stuckChannel = diagnostics.channel('switchyard:task:stuck');

/** Published for every task failure (not cancellations). Message: `{ group, task, error }`. */
export const failedChannel = diagnostics.channel('switchyard:task:failed');
