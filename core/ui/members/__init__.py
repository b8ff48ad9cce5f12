"""The Members page's parts: the member list and detail (`roster`), rewards, care lists,
charts, and tiers with points expiry. Each draws one tab from a `MembersView`
(`common.members_view(user)`); the page only lays the tabs out."""
