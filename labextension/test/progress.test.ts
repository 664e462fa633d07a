import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  deriveStepStates,
  findEpisode,
  parseProgress,
  pendingConsent,
  pendingEpisodeDone,
  pendingExercisesDone,
  PendingUpdates,
  percent,
  rescoreTraining,
  withEpisodeDone,
  withExercisesDone
} from '../src/progress';
import { sampleProgress } from './fixtures';

describe('percent', () => {
  it('rounds like the service and is 0 when nothing is possible', () => {
    assert.equal(percent(1, 3), 33);
    assert.equal(percent(2, 3), 67);
    assert.equal(percent(1, 2), 50);
    assert.equal(percent(0, 0), 0);
    assert.equal(percent(3, 3), 100);
  });
});

describe('deriveStepStates', () => {
  it('makes the first step not reached "next" and the rest "todo"', () => {
    const steps = sampleProgress().steps;
    const states = deriveStepStates(steps, new Set(['login', 'upload_file']));
    assert.deepEqual(
      states.map(s => s.state),
      ['done', 'next', 'done', 'todo']
    );
  });

  it('has no "next" when all steps are reached', () => {
    const steps = sampleProgress().steps;
    const all = new Set(steps.map(s => s.id));
    assert.ok(deriveStepStates(steps, all).every(s => s.state === 'done'));
  });

  it('keeps unchanged steps as they were', () => {
    const steps = sampleProgress().steps;
    const states = deriveStepStates(steps, new Set(['login', 'start_server']));
    states.forEach((s, i) => assert.equal(s, steps[i]));
  });
});

describe('rescoreTraining', () => {
  it('scores lessons by episodes done and sums programs', () => {
    const p = sampleProgress();
    p.training.programs[0].lessons[1].episodes[0].state = 'done';
    const training = rescoreTraining(p.training.programs);
    const [intro, git] = training.programs[0].lessons;
    assert.deepEqual([intro.earned, intro.possible, intro.percent], [1, 2, 50]);
    assert.deepEqual([git.earned, git.possible, git.percent], [1, 1, 100]);
    assert.deepEqual(
      [training.earned, training.possible, training.percent],
      [2, 3, 67]
    );
    assert.equal(training.programs[0].percent, 67);
  });
});

describe('optimistic updates', () => {
  it('marks a self-reported episode done and rescores', () => {
    const p = withEpisodeDone(sampleProgress(), 'git', 'clone', 'now');
    const e = findEpisode(p, 'git', 'clone');
    assert.equal(e?.state, 'done');
    assert.equal(e?.source, 'self');
    assert.equal(e?.completed, 'now');
    assert.equal(p.training.percent, 67);
  });

  it('leaves an unknown episode alone', () => {
    const before = sampleProgress();
    assert.equal(withEpisodeDone(before, 'git', 'nope', 'now'), before);
  });

  it('counts exercises without completing the episode, idempotently', () => {
    let p = withExercisesDone(sampleProgress(), 'intro', 'first-notebook', 2);
    p = withExercisesDone(p, 'intro', 'first-notebook', 2);
    const e = findEpisode(p, 'intro', 'first-notebook');
    assert.equal(e?.state, 'started');
    assert.equal(e?.exercises_done, 2);
    p = withExercisesDone(p, 'intro', 'first-notebook', 9);
    assert.equal(findEpisode(p, 'intro', 'first-notebook')?.exercises_done, 3);
    assert.equal(p.training.percent, 33);
  });
});

describe('PendingUpdates', () => {
  it('re-applies updates until the service confirms them', () => {
    const pending = new PendingUpdates(1000);
    pending.add(pendingEpisodeDone('git', 'clone', 'now'), 0);
    pending.add(pendingConsent('withdrawn', '1'), 0);

    const lagging = pending.applyTo(sampleProgress(), 10);
    assert.equal(findEpisode(lagging, 'git', 'clone')?.state, 'done');
    assert.equal(lagging.consent.decision, 'withdrawn');
    assert.equal(pending.size, 2);

    const server = withEpisodeDone(sampleProgress(), 'git', 'clone', 'then');
    const caughtUp = pending.applyTo(server, 20);
    assert.equal(findEpisode(caughtUp, 'git', 'clone')?.completed, 'then');
    assert.equal(pending.size, 1);
  });

  it('drops updates the service never confirms', () => {
    const pending = new PendingUpdates(1000);
    pending.add(pendingExercisesDone('intro', 'first-notebook', 1), 0);
    const p = pending.applyTo(sampleProgress(), 1000);
    assert.equal(findEpisode(p, 'intro', 'first-notebook')?.exercises_done, 0);
    assert.equal(pending.size, 0);
  });
});

describe('parseProgress', () => {
  it('keeps a well-formed document as it is', () => {
    const doc = sampleProgress();
    assert.deepEqual(parseProgress(JSON.parse(JSON.stringify(doc))), doc);
  });

  it('rejects what is not a document', () => {
    assert.equal(parseProgress(null), null);
    assert.equal(parseProgress([]), null);
    assert.equal(parseProgress('x'), null);
  });

  it('has nothing to show before the service was ever reached', () => {
    assert.equal(parseProgress({ active: true, stale: true }), null);
  });

  it('fills in missing fields', () => {
    const p = parseProgress({
      consent: { decision: 'maybe' },
      steps: [{ id: 'a', title: 'A', state: 'done' }],
      training: {
        programs: [
          {
            id: 'p',
            lessons: [{ id: 'l', episodes: [{ id: 'e', state: 'done' }] }]
          }
        ]
      }
    });
    assert.ok(p);
    assert.equal(p.active, true);
    assert.equal(p.stale, false);
    assert.equal(p.consent.decision, null);
    assert.equal(p.notice, null);
    assert.equal(p.steps_done, 1);
    assert.equal(p.steps_total, 1);
    assert.equal(p.training.programs[0].title, 'p');
    assert.equal(p.training.programs[0].lessons[0].episodes[0].title, 'e');
  });

  it('derives step states when the service sends none', () => {
    const p = parseProgress({
      consent: { decision: null },
      steps: [
        { id: 'a', reached: '2026-01-01T00:00:00Z' },
        { id: 'b', reached: null },
        { id: 'c' }
      ]
    });
    assert.deepEqual(
      p?.steps.map(s => s.state),
      ['done', 'next', 'todo']
    );
  });

  it('reads active and stale flags', () => {
    const p = parseProgress({ active: false, stale: true });
    assert.equal(p?.active, false);
    assert.equal(p?.stale, true);
  });
});
