import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  exerciseFor,
  parseExerciseId,
  parseLessonMetadata
} from '../src/metadata';

describe('parseLessonMetadata', () => {
  it('reads lesson and episode', () => {
    assert.deepEqual(
      parseLessonMetadata({ lesson: 'intro', episode: 'first-notebook' }),
      { lesson: 'intro', episode: 'first-notebook' }
    );
  });

  it('is null for other notebooks and invalid ids', () => {
    assert.equal(parseLessonMetadata(undefined), null);
    assert.equal(parseLessonMetadata('intro'), null);
    assert.equal(parseLessonMetadata({ lesson: 'intro' }), null);
    assert.equal(parseLessonMetadata({ lesson: 'a b', episode: 'e' }), null);
    assert.equal(parseLessonMetadata({ lesson: 'l', episode: 3 }), null);
    assert.equal(
      parseLessonMetadata({ lesson: 'x'.repeat(65), episode: 'e' }),
      null
    );
  });
});

describe('parseExerciseId', () => {
  it('prefers cell metadata', () => {
    assert.equal(parseExerciseId({ exercise: 'ex1' }, ['exercise:ex2']), 'ex1');
  });

  it('accepts an exercise tag', () => {
    assert.equal(parseExerciseId(undefined, ['hide', 'exercise:ex2']), 'ex2');
    assert.equal(parseExerciseId({}, ['exercise: ex3 ']), 'ex3');
  });

  it('ignores other cells', () => {
    assert.equal(parseExerciseId(undefined, undefined), null);
    assert.equal(parseExerciseId({ exercise: '' }, ['exercise:']), null);
    assert.equal(parseExerciseId(null, 'exercise:ex1'), null);
    assert.equal(parseExerciseId({ exercise: 'bad/id' }, []), null);
  });
});

describe('exerciseFor', () => {
  it('needs a lesson notebook and an exercise cell', () => {
    const nb = { lesson: 'intro', episode: 'first-notebook' };
    assert.deepEqual(exerciseFor(nb, { exercise: 'ex1' }, []), {
      lesson: 'intro',
      episode: 'first-notebook',
      exercise: 'ex1'
    });
    assert.equal(exerciseFor(undefined, { exercise: 'ex1' }, []), null);
    assert.equal(exerciseFor(nb, undefined, ['solution']), null);
  });
});
