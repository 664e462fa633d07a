/**
 * Reading the training markers of notebooks and cells (format documented in
 * README.md). No JupyterLab imports: unit-tested in node.
 */

/** Ids as the event schemas accept them. */
const ID = /^[A-Za-z0-9_.-]{1,64}$/;

const TAG_PREFIX = 'exercise:';

export interface ILessonRef {
  lesson: string;
  episode: string;
}

export interface IExerciseRef extends ILessonRef {
  exercise: string;
}

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}

/**
 * The lesson and episode of a notebook from its `catalyst` metadata, or null
 * when it is not a lesson notebook (or its ids are not valid).
 */
export function parseLessonMetadata(catalyst: unknown): ILessonRef | null {
  if (typeof catalyst !== 'object' || catalyst === null) {
    return null;
  }
  const { lesson, episode } = catalyst as Record<string, unknown>;
  if (!isValidId(lesson) || !isValidId(episode)) {
    return null;
  }
  return { lesson, episode };
}

/**
 * The exercise id of a cell: `catalyst.exercise` in its metadata, else an
 * `exercise:<id>` tag. Null when the cell is not an exercise.
 */
export function parseExerciseId(
  catalyst: unknown,
  tags: unknown
): string | null {
  if (typeof catalyst === 'object' && catalyst !== null) {
    const exercise = (catalyst as Record<string, unknown>).exercise;
    if (isValidId(exercise)) {
      return exercise;
    }
  }
  if (Array.isArray(tags)) {
    for (const tag of tags) {
      if (typeof tag === 'string' && tag.startsWith(TAG_PREFIX)) {
        const id = tag.slice(TAG_PREFIX.length).trim();
        if (isValidId(id)) {
          return id;
        }
      }
    }
  }
  return null;
}

/**
 * The exercise a successful cell run completes, if any.
 */
export function exerciseFor(
  notebookCatalyst: unknown,
  cellCatalyst: unknown,
  cellTags: unknown
): IExerciseRef | null {
  const lesson = parseLessonMetadata(notebookCatalyst);
  if (!lesson) {
    return null;
  }
  const exercise = parseExerciseId(cellCatalyst, cellTags);
  return exercise ? { ...lesson, exercise } : null;
}
