/**
 * The task store as the publisher sees it: the id of a task's tracking comment (bookkeeping, not a
 * task's state) is written in the next group commit instead of a synced commit of its own, so a
 * burst of new tasks does not pay a second fsync each. A crash before that commit loses only the
 * id: the publisher then posts the comment anew, and no task or acknowledged delivery is lost.
 */
import type { Logger } from '../shared/log.js';
import type { GroupCommit } from './group-commit.js';
import type { TaskStore } from './task-store.js';

export function publisherStore(store: TaskStore, commits: GroupCommit, log: Logger): TaskStore {
  /** Ids written but not yet committed, so a read in between sees them. */
  const pending = new Map<number, number>();
  const view = Object.create(store) as TaskStore;
  view.trackingComment = (id) => pending.get(id) ?? store.trackingComment(id);
  view.setTrackingComment = (id, commentId) => {
    pending.set(id, commentId);
    commits.run(() => store.setTrackingComment(id, commentId)).then(
      () => { if (pending.get(id) === commentId) pending.delete(id); },
      (err: unknown) => {
        if (pending.get(id) === commentId) pending.delete(id);
        log.warn({ err, taskId: id }, 'could not record the tracking comment of a task');
      },
    );
  };
  return view;
}
