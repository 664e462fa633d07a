import { ReactWidget } from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import {
  INotebookModel,
  Notebook,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import {
  addToolbarButtonClass,
  checkIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import * as React from 'react';

import { episodeCompletedEvent, SessionEvents } from './events';
import { Translate } from './i18n';
import { exerciseFor, ILessonRef, parseLessonMetadata } from './metadata';
import { ProgressModel } from './model';
import {
  findEpisode,
  IEpisode,
  pendingEpisodeDone,
  pendingExercisesDone
} from './progress';

const METADATA_KEY = 'catalyst';
const ITEM_NAME = 'catalyst-mark-complete';

/** The lesson and episode of a notebook, if it is a lesson notebook. */
export function lessonOf(
  notebook: Notebook | null | undefined
): ILessonRef | null {
  return notebook?.model
    ? parseLessonMetadata(notebook.model.getMetadata(METADATA_KEY))
    : null;
}

/**
 * The episode a notebook can be marked complete for: a lesson notebook whose
 * episode the catalog lets the learner self-report.
 */
export function selfReportEpisode(
  model: ProgressModel,
  notebook: Notebook | null | undefined
): (ILessonRef & { state: IEpisode['state'] }) | null {
  const ref = lessonOf(notebook);
  if (!ref) {
    return null;
  }
  const episode = findEpisode(model.progress, ref.lesson, ref.episode);
  return episode?.self_report ? { ...ref, state: episode.state } : null;
}

/**
 * Post `episode_completed` for the notebook's episode and show it done.
 */
export async function markEpisodeComplete(
  model: ProgressModel,
  notebook: Notebook | null | undefined
): Promise<boolean> {
  const episode = selfReportEpisode(model, notebook);
  if (!episode || episode.state === 'done') {
    return false;
  }
  const ok = await model.post([episodeCompletedEvent(episode)]);
  if (ok) {
    model.addPending(
      pendingEpisodeDone(
        episode.lesson,
        episode.episode,
        new Date().toISOString()
      )
    );
  }
  return ok;
}

/**
 * Report successful cell runs: the first one of the session as an action,
 * exercise cells of lesson notebooks as completed exercises.
 */
export function trackExecutions(model: ProgressModel): IDisposable {
  const session = new SessionEvents();
  // Exercises reported this session per episode, for the optimistic count.
  const reported = new Map<string, Set<string>>();

  const onExecuted = (
    _: unknown,
    args: { notebook: Notebook; cell: Cell; success: boolean }
  ) => {
    if (!args.success || !args.notebook.model) {
      return;
    }
    const exercise = exerciseFor(
      args.notebook.model.getMetadata(METADATA_KEY),
      args.cell.model.getMetadata(METADATA_KEY),
      args.cell.model.getMetadata('tags')
    );
    const events = session.forExecutedCell(model.progress, exercise);
    if (!events.length) {
      return;
    }
    void model.post(events).then(ok => {
      if (!ok) {
        session.release(events);
        return;
      }
      if (exercise && events.some(e => e.schema === 'exercise_completed')) {
        const key = `${exercise.lesson}/${exercise.episode}`;
        const done = reported.get(key) ?? new Set<string>();
        done.add(exercise.exercise);
        reported.set(key, done);
        model.addPending(
          pendingExercisesDone(exercise.lesson, exercise.episode, done.size)
        );
      }
    });
  };

  NotebookActions.executed.connect(onExecuted);
  return new DisposableDelegate(() => {
    NotebookActions.executed.disconnect(onExecuted);
  });
}

/**
 * Adds a "Mark episode complete" button to the toolbar of lesson notebooks
 * whose episode is self-reported.
 */
export class MarkCompleteExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(
    private _model: ProgressModel,
    private _t: Translate
  ) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new MarkCompleteButton(this._model, panel, this._t);
    if (!panel.toolbar.insertAfter('cellType', ITEM_NAME, button)) {
      panel.toolbar.addItem(ITEM_NAME, button);
    }
    return button;
  }
}

class MarkCompleteButton extends ReactWidget {
  constructor(
    private _model: ProgressModel,
    private _panel: NotebookPanel,
    private _t: Translate
  ) {
    super();
    addToolbarButtonClass(this);
    this.addClass('jp-CatalystMarkComplete');
    this.hide();
    _model.changed.connect(this._refresh, this);
    // The notebook may become a lesson notebook while open.
    void _panel.context.ready.then(() => {
      _panel.model?.metadataChanged.connect(this._refresh, this);
      this._refresh();
    });
  }

  dispose(): void {
    this._model.changed.disconnect(this._refresh, this);
    super.dispose();
  }

  render(): JSX.Element | null {
    const episode = this._episode;
    if (!episode) {
      return null;
    }
    const t = this._t;
    const done = episode.state === 'done';
    return (
      <ToolbarButtonComponent
        icon={checkIcon}
        label={done ? t('Episode complete') : t('Mark episode complete')}
        tooltip={t('Mark the episode of this lesson notebook as complete')}
        disabledTooltip={t('You completed this episode')}
        enabled={!done && !this._busy}
        pressed={done}
        // Keys as attribute names: the component writes them out verbatim.
        dataset={{
          'catalyst-action': 'mark-episode-complete',
          'lesson-id': episode.lesson,
          'episode-id': episode.episode,
          state: episode.state
        }}
        onClick={() => void this._mark()}
      />
    );
  }

  private _refresh(): void {
    if (this.isDisposed) {
      return;
    }
    this._episode = selfReportEpisode(this._model, this._panel.content);
    this.setHidden(!this._episode);
    this.update();
  }

  private async _mark(): Promise<void> {
    this._busy = true;
    this.update();
    await markEpisodeComplete(this._model, this._panel.content);
    this._busy = false;
    this._refresh();
  }

  private _episode: ReturnType<typeof selfReportEpisode> = null;
  private _busy = false;
}
