// Generated from the domain's moderation transitions (src/domain/moderation.rs,
// `transitions`) by tests/api/console_transitions.rs: do not edit. After changing them, run
//   UPDATE_GENERATED=1 cargo test --test api console_transitions

/** @typedef {'pending' | 'published' | 'rejected' | 'spam' | 'deleted'} Status */
/** @typedef {'dismiss_flags' | 'approve' | 'hold' | 'restore' | 'reject' | 'spam' | 'delete'} Action */

/** Every moderation action, in the order the console offers them.
 * @type {readonly Action[]} */
export const ACTIONS = ['dismiss_flags', 'approve', 'hold', 'restore', 'reject', 'spam', 'delete'];

/** For each status, the actions a moderator may take on a review in it (one not erased) and
 * the status each leaves it in; an action missing here is refused.
 * @type {Readonly<Record<Status, Partial<Record<Action, Status>>>>} */
export const TRANSITIONS = {
  pending: { approve: 'published', hold: 'pending', restore: 'pending', reject: 'rejected', spam: 'spam', delete: 'deleted' },
  published: { dismiss_flags: 'published', approve: 'published', hold: 'pending', reject: 'rejected', spam: 'spam', delete: 'deleted' },
  rejected: { approve: 'published', restore: 'pending', reject: 'rejected', spam: 'spam', delete: 'deleted' },
  spam: { approve: 'published', restore: 'pending', reject: 'rejected', spam: 'spam', delete: 'deleted' },
  deleted: { delete: 'deleted' },
};
