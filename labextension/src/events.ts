/**
 * The events the extension sends, and when it may send them.
 * No JupyterLab imports: unit-tested in node.
 */

import type { IExerciseRef, ILessonRef } from './metadata';
import { IProgress, needsDecision } from './progress';

export interface IEvent {
  schema: string;
  version: number;
  payload: Record<string, string>;
}

export function cellExecutedEvent(): IEvent {
  return { schema: 'action', version: 1, payload: { action: 'cell_executed' } };
}

export function exerciseCompletedEvent(ref: IExerciseRef): IEvent {
  const { lesson, episode, exercise } = ref;
  return {
    schema: 'exercise_completed',
    version: 1,
    payload: { lesson, episode, exercise }
  };
}

export function episodeCompletedEvent(ref: ILessonRef): IEvent {
  const { lesson, episode } = ref;
  return {
    schema: 'episode_completed',
    version: 1,
    payload: { lesson, episode, source: 'self' }
  };
}

export function consentEvent(
  decision: 'given' | 'withdrawn',
  noticeVersion: string
): IEvent {
  return {
    schema: 'consent',
    version: 1,
    payload: { decision, notice_version: noticeVersion }
  };
}

/**
 * May detected activity (cell runs, exercises) be recorded? Only inside a hub
 * and once the member has accepted the notice; unknown progress means no.
 */
export function mayRecordActivity(progress: IProgress | null): boolean {
  return (
    progress !== null &&
    progress.active &&
    progress.consent.decision === 'given' &&
    !needsDecision(progress)
  );
}

/**
 * Keeps detected activity to one event per fact and session: the first
 * successful cell run, each exercise once.
 */
export class SessionEvents {
  /**
   * The events a successful cell run yields, given the current progress.
   * Events returned count as sent; call `release` if posting them fails.
   */
  forExecutedCell(
    progress: IProgress | null,
    exercise: IExerciseRef | null
  ): IEvent[] {
    if (!mayRecordActivity(progress)) {
      return [];
    }
    const events: IEvent[] = [];
    if (!this._cellExecutedSent) {
      this._cellExecutedSent = true;
      events.push(cellExecutedEvent());
    }
    if (exercise) {
      const key = exerciseKey(exercise);
      if (!this._exercises.has(key)) {
        this._exercises.add(key);
        events.push(exerciseCompletedEvent(exercise));
      }
    }
    return events;
  }

  /**
   * Forget events that could not be posted, so a later run retries them.
   */
  release(events: readonly IEvent[]): void {
    for (const event of events) {
      if (event.schema === 'action') {
        this._cellExecutedSent = false;
      } else if (event.schema === 'exercise_completed') {
        this._exercises.delete(
          exerciseKey(event.payload as unknown as IExerciseRef)
        );
      }
    }
  }

  private _cellExecutedSent = false;
  private _exercises = new Set<string>();
}

function exerciseKey(ref: IExerciseRef): string {
  return `${ref.lesson}/${ref.episode}/${ref.exercise}`;
}
