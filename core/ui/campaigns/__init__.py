"""The Campaigns page's parts: the campaign list and forms (`plans`), the responsibility
sheet, the calendar and the results. Each draws one tab from a `CampaignsView`
(`common.campaigns_view(user)`). The content library is `core.ui.content_library`."""
