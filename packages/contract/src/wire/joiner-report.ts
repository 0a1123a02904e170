/**
 * `<prefix>.ctl.joiners`: a core-NATS request (empty body) that every running
 * joiner answers with what it follows right now. Nothing is stored: whoever
 * asks (the console) gathers the answers that arrive within its own bound.
 */
import { z } from 'zod';

export const JoinerReportSchema = z.object({
  /** The joiner's id (host-pid-random), as in its logs and in the records it owns. */
  id: z.string(),
  /** Calls whose stream or request the joiner holds now. */
  held: z.number().int().nonnegative(),
  /** Calls the joiner parked (nak with a delay) whose delay has not passed yet. */
  parked: z.number().int().nonnegative(),
  /** When the joiner answered (ISO time). */
  at: z.string(),
});
export type JoinerReport = z.infer<typeof JoinerReportSchema>;
