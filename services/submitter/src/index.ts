export { Submitter, type SubmitterState } from './submitter.js';
export { parseSubmission, type Intake } from './intake.js';
export { afterEraChange, planCall, type CallPlan } from './era.js';
