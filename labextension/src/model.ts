import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { fetchProgress, postEvents } from './api';
import { IEvent } from './events';
import {
  IPendingUpdate,
  IProgress,
  parseProgress,
  PendingUpdates
} from './progress';

/** How often the visible panel refreshes, in ms. */
const REFRESH_INTERVAL = 3000;

export type LoadStatus = 'loading' | 'ready' | 'unavailable';

/**
 * The member's progress as last fetched, with the optimistic updates not yet
 * confirmed by the service, and the way events are posted.
 */
export class ProgressModel implements IDisposable {
  constructor(options: ProgressModel.IOptions) {
    this._language = options.language;
    this._settings = options.serverSettings ?? ServerConnection.makeSettings();
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetch(),
      frequency: { interval: REFRESH_INTERVAL, backoff: true, max: 30_000 },
      name: '@catalyst-hub/labextension:progress',
      standby: 'when-hidden'
    });
  }

  /** Emits when the progress, or its status, changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emits after the extension posted events, before the refresh. */
  get posted(): ISignal<this, readonly IEvent[]> {
    return this._posted;
  }

  get progress(): IProgress | null {
    return this._progress;
  }

  get status(): LoadStatus {
    return this._status;
  }

  /**
   * True when what is shown may be out of date: the service is unreachable
   * (the server extension says so) or the local API did not answer.
   */
  get stale(): boolean {
    return !!this._progress && (this._progress.stale || this._fetchFailed);
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Poll while the panel is visible. */
  setPolling(active: boolean): void {
    if (active) {
      void this._poll.start();
    } else {
      void this._poll.stop();
    }
  }

  /** Fetch now, whether or not the panel polls. */
  refresh(): Promise<void> {
    return this._fetch().catch(() => undefined);
  }

  /**
   * Show a change before the service reports it.
   */
  addPending(update: IPendingUpdate): void {
    this._pending.add(update, Date.now());
    if (this._progress) {
      this._progress = update.apply(this._progress);
      this._changed.emit();
    }
  }

  /**
   * Post events to the local API. Resolves to whether they were accepted.
   */
  async post(events: readonly IEvent[]): Promise<boolean> {
    if (!events.length) {
      return true;
    }
    try {
      await postEvents(events, this._settings);
    } catch (error) {
      console.warn('catalyst: could not post events', error);
      return false;
    }
    this._posted.emit(events);
    void this.refresh();
    return true;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    const request = ++this._requests;
    let data: IProgress | null;
    try {
      data = parseProgress(await fetchProgress(this._language, this._settings));
      if (!data) {
        throw new Error('Unexpected progress document');
      }
    } catch (error) {
      if (request === this._requests) {
        this._fetchFailed = true;
        this._status = this._progress ? 'ready' : 'unavailable';
        this._changed.emit();
      }
      // Rethrow so the poll backs off while the server does not answer.
      throw error;
    }
    // A newer request has been answered meanwhile, or will be.
    if (request !== this._requests) {
      return;
    }
    this._fetchFailed = false;
    this._status = 'ready';
    this._progress = this._pending.applyTo(data, Date.now());
    this._changed.emit();
  }

  private _language: string;
  private _settings: ServerConnection.ISettings;
  private _poll: Poll;
  private _pending = new PendingUpdates();
  private _progress: IProgress | null = null;
  private _status: LoadStatus = 'loading';
  private _fetchFailed = false;
  private _requests = 0;
  private _changed = new Signal<this, void>(this);
  private _posted = new Signal<this, readonly IEvent[]>(this);
}

export namespace ProgressModel {
  export interface IOptions {
    /** Catalog language passed to the progress API (en, es, pt, fr). */
    language: string;
    serverSettings?: ServerConnection.ISettings;
  }
}
