export { Joiner, type JoinerState } from './joiner.js';
export { PollBudget } from './parked/poll-budget.js';
export { justCreatedTask, taskNeedsFollow } from './follow/index.js';
