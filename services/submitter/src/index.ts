export { Submitter, type SubmitterState } from './submitter.js';
export { parseSubmission, type Intake } from './intake.js';
