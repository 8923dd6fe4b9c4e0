import diagnostics from 'node:diagnostics_channel';

/**
 * Published on the main thread after the event loop was blocked longer than a
 * `detectBlocking()` threshold, once the loop runs again. Message: the `BlockReport`.
 */
export const blockedChannel = diagnostics.channel('switchyard:observe:blocked');
