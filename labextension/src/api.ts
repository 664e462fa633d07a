import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IEvent } from './events';

/**
 * Call the server extension's local API (auth and xsrf handled by
 * ServerConnection).
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'catalyst', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  if (!response.ok) {
    throw new ServerConnection.ResponseError(response, text || undefined);
  }
  return (text ? JSON.parse(text) : null) as T;
}

export function fetchProgress(
  language: string,
  settings?: ServerConnection.ISettings
): Promise<unknown> {
  return requestAPI(
    `progress${URLExt.objectToQueryString({ lang: language })}`,
    { method: 'GET', cache: 'no-store' },
    settings
  );
}

export function postEvents(
  events: readonly IEvent[],
  settings?: ServerConnection.ISettings
): Promise<unknown> {
  return requestAPI(
    'events',
    { method: 'POST', body: JSON.stringify({ events }) },
    settings
  );
}
