import { LabIcon } from '@jupyterlab/ui-components';

import gettingStartedSvg from '../style/icons/getting-started.svg';

export const gettingStartedIcon = new LabIcon({
  name: 'catalyst-hub:getting-started',
  svgstr: gettingStartedSvg
});
