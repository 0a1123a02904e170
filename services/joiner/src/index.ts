export { Joiner, type JoinerState } from './joiner.js';
