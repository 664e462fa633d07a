import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  consentEvent,
  episodeCompletedEvent,
  mayRecordActivity,
  SessionEvents
} from '../src/events';
import { IProgress, needsDecision } from '../src/progress';
import { sampleProgress } from './fixtures';

const exercise = {
  lesson: 'intro',
  episode: 'first-notebook',
  exercise: 'ex1'
};

function withDecision(decision: IProgress['consent']['decision']): IProgress {
  return { ...sampleProgress(), consent: { decision, version: '1' } };
}

describe('consent gate', () => {
  it('records activity only inside a hub after consent', () => {
    assert.equal(mayRecordActivity(withDecision('given')), true);
    assert.equal(mayRecordActivity(withDecision('withdrawn')), false);
    assert.equal(mayRecordActivity(withDecision(null)), false);
    assert.equal(mayRecordActivity(null), false);
    assert.equal(
      mayRecordActivity({ ...withDecision('given'), active: false }),
      false
    );
  });

  it('an acceptance of an older notice is no consent to the current one', () => {
    const older = {
      ...withDecision('given'),
      consent: { decision: 'given', version: '0' }
    };
    assert.equal(mayRecordActivity(older as IProgress), false);
    assert.equal(needsDecision(older as IProgress), true);
    assert.equal(needsDecision(withDecision('given')), false);
    assert.equal(needsDecision(withDecision(null)), true);
    assert.equal(needsDecision(withDecision('withdrawn')), false);
  });

  it('sends nothing for cell runs without consent', () => {
    const session = new SessionEvents();
    assert.deepEqual(session.forExecutedCell(withDecision(null), exercise), []);
    assert.deepEqual(
      session.forExecutedCell(withDecision('withdrawn'), exercise),
      []
    );
    // Consent given later: the first run after it counts.
    assert.equal(
      session.forExecutedCell(withDecision('given'), exercise).length,
      2
    );
  });
});

describe('SessionEvents', () => {
  it('sends cell_executed once and each exercise once', () => {
    const session = new SessionEvents();
    const given = withDecision('given');
    assert.deepEqual(session.forExecutedCell(given, null), [
      { schema: 'action', version: 1, payload: { action: 'cell_executed' } }
    ]);
    assert.deepEqual(session.forExecutedCell(given, null), []);
    assert.deepEqual(session.forExecutedCell(given, exercise), [
      {
        schema: 'exercise_completed',
        version: 1,
        payload: { lesson: 'intro', episode: 'first-notebook', exercise: 'ex1' }
      }
    ]);
    assert.deepEqual(session.forExecutedCell(given, exercise), []);
    assert.equal(
      session.forExecutedCell(given, { ...exercise, exercise: 'ex2' }).length,
      1
    );
  });

  it('retries events whose post failed', () => {
    const session = new SessionEvents();
    const given = withDecision('given');
    const events = session.forExecutedCell(given, exercise);
    session.release(events);
    assert.deepEqual(session.forExecutedCell(given, exercise), events);
  });
});

describe('event payloads', () => {
  it('match the schemas', () => {
    assert.deepEqual(episodeCompletedEvent({ lesson: 'l', episode: 'e' }), {
      schema: 'episode_completed',
      version: 1,
      payload: { lesson: 'l', episode: 'e', source: 'self' }
    });
    assert.deepEqual(consentEvent('withdrawn', '2'), {
      schema: 'consent',
      version: 1,
      payload: { decision: 'withdrawn', notice_version: '2' }
    });
  });
});
